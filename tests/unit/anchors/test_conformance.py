"""The anchor conformance kit: every kind in ``ANCHORS`` passes every test here.

An anchor commits a real ledger checkpoint; its proof then verifies offline, from the
proof and public keys alone, to exactly that checkpoint, and to nothing else: not with a
byte changed, not for another checkpoint, not under another key.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from copyseal.anchors import AnchorError, AnchorRecord, Proven
from copyseal.errors import VerificationError
from copyseal.ledger import Checkpoint, Ledger

from .conftest import ORIGIN, Kit


def _proof(kit: Kit, checkpoint: Checkpoint) -> bytes:
    return kit.anchoring.prove(kit.anchoring.anchor(checkpoint))


def test_a_ledger_checkpoint_is_anchored_proven_and_verified(kit: Kit, ledger: Ledger) -> None:
    checkpoint = ledger.latest_checkpoint().checkpoint
    record = kit.anchoring.anchor(checkpoint)
    assert isinstance(record, AnchorRecord)
    assert (record.kind, record.name, record.checkpoint) == (
        kit.kind,
        kit.anchoring.name,
        checkpoint,
    )
    proof = kit.anchoring.prove(record)
    assert isinstance(proof, bytes) and proof
    proven = kit.verifying.verify(proof, checkpoint)
    assert isinstance(proven, Proven)
    assert (proven.kind, proven.name) == (kit.kind, kit.verifying.name)
    assert (proven.origin, proven.size, proven.root) == (ORIGIN, 8, checkpoint.root)
    assert proven.checkpoint == checkpoint
    assert proven.detail
    assert kit.anchoring.kind == kit.verifying.kind == kit.kind
    # Every checkpoint the log issued anchors the same way.
    for signed in ledger.checkpoints():
        assert kit.verifying.verify(_proof(kit, signed.checkpoint), signed.checkpoint).size == (
            signed.size
        )


def test_what_is_proven_is_a_frozen_json_safe_value(kit: Kit, ledger: Ledger) -> None:
    checkpoint = ledger.latest_checkpoint().checkpoint
    proven = kit.verifying.verify(_proof(kit, checkpoint), checkpoint)
    with pytest.raises(dataclasses.FrozenInstanceError):
        proven.size = 9  # type: ignore[misc]
    doc = json.loads(json.dumps(proven.to_json()))
    assert doc["kind"] == kit.kind and doc["size"] == 8
    assert base64.b64decode(doc["root"]) == checkpoint.root
    assert proven.time is None or proven.time.utcoffset() is not None


def test_every_flipped_byte_of_a_proof_is_rejected(kit: Kit, ledger: Ledger) -> None:
    checkpoint = ledger.latest_checkpoint().checkpoint
    proof = _proof(kit, checkpoint)
    for i in range(len(proof)):
        changed = bytearray(proof)
        changed[i] ^= 0x01
        with pytest.raises(VerificationError):
            kit.verifying.verify(bytes(changed), checkpoint)
            pytest.fail(f"byte {i} of the proof flipped, still verified")


@pytest.mark.parametrize("bad", [b"", b"\n", b"\xff\xfe", b"x" * (2 << 20)])
def test_garbage_is_a_failed_verification(kit: Kit, ledger: Ledger, bad: bytes) -> None:
    with pytest.raises(VerificationError):
        kit.verifying.verify(bad, ledger.latest_checkpoint().checkpoint)


def test_a_proof_for_another_checkpoint_is_rejected(kit: Kit, ledger: Ledger) -> None:
    older, newer = (signed.checkpoint for signed in ledger.checkpoints())
    assert (older.size, newer.size) == (5, 8)
    proof = _proof(kit, newer)
    with pytest.raises(VerificationError):
        kit.verifying.verify(proof, older)  # another size and root
    with pytest.raises(VerificationError):
        kit.verifying.verify(_proof(kit, older), newer)
    other_root = Checkpoint(origin=ORIGIN, size=8, root=ledger.root_at(5))
    with pytest.raises(VerificationError):
        kit.verifying.verify(proof, other_root)  # same size, another root
    other_size = Checkpoint(origin=ORIGIN, size=9, root=newer.root)
    with pytest.raises(VerificationError):
        kit.verifying.verify(proof, other_size)  # same root, another size
    other_log = Checkpoint(origin="copyseal.test/elsewhere", size=8, root=newer.root)
    with pytest.raises(VerificationError):
        kit.verifying.verify(proof, other_log)


def test_another_key_is_rejected(kit: Kit, ledger: Ledger) -> None:
    checkpoint = ledger.latest_checkpoint().checkpoint
    with pytest.raises(VerificationError):
        kit.stranger.verify(_proof(kit, checkpoint), checkpoint)
    forged = kit.stranger.prove(kit.stranger.anchor(checkpoint))
    assert kit.stranger.verify(forged, checkpoint).size == 8  # valid under its own key
    with pytest.raises(VerificationError):
        kit.verifying.verify(forged, checkpoint)


def test_an_anchor_built_from_public_keys_cannot_anchor(kit: Kit, ledger: Ledger) -> None:
    with pytest.raises(AnchorError):
        kit.verifying.anchor(ledger.latest_checkpoint().checkpoint)


def test_another_anchors_record_is_not_proven(kit: Kit, ledger: Ledger) -> None:
    record = kit.anchoring.anchor(ledger.latest_checkpoint().checkpoint)
    with pytest.raises(AnchorError):
        kit.anchoring.prove(dataclasses.replace(record, name="copyseal.test/elsewhere"))
    with pytest.raises(AnchorError):
        kit.anchoring.prove(dataclasses.replace(record, kind=f"not-{kit.kind}"))


_VERIFY_ALONE = """
import base64, json, sys
from pathlib import Path
from copyseal.anchors import AnchorContext, anchor_for
from copyseal.ledger.checkpoint import Checkpoint
kind, vkey, origin, size, root, proof, public = sys.argv[1:]
anchor = anchor_for(kind, AnchorContext(vkey=vkey, **json.loads(public)))
checkpoint = Checkpoint(origin=origin, size=int(size), root=base64.b64decode(root))
proven = anchor.verify(Path(proof).read_bytes(), checkpoint)
heavy = sorted(
    m for m in sys.modules
    if m.split(".")[0] in ("sqlalchemy", "alembic", "psycopg", "scrapy", "playwright", "cv2")
    or m.startswith(("copyseal.db", "copyseal.ledger.store", "copyseal.workspace"))
)
print(json.dumps({"proven": proven.to_json(), "heavy": heavy}))
"""


def test_verification_needs_only_the_proof_and_public_keys(
    kit: Kit, ledger: Ledger, tmp_path: Path
) -> None:
    """A fresh interpreter, without any database module, verifies the proof from files and
    the public material alone (keys, a CA file)."""
    checkpoint = ledger.latest_checkpoint().checkpoint
    path = tmp_path / "anchor.proof"
    path.write_bytes(_proof(kit, checkpoint))
    root = base64.b64encode(checkpoint.root).decode("ascii")
    out = subprocess.run(
        [
            *(sys.executable, "-c", _VERIFY_ALONE, kit.kind, kit.vkey, ORIGIN, "8", root),
            *(str(path), json.dumps(kit.public)),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    result = json.loads(out.stdout)
    assert result["heavy"] == []
    assert result["proven"]["size"] == 8 and result["proven"]["root"] == root
