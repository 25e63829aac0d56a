"""The witness's rules (C2SP tlog-witness), checked without HTTP on a real ledger."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from copyseal.errors import AnchorError, VerificationError, WorkspaceError
from copyseal.ledger import Checkpoint, Ledger
from copyseal.ledger.merkle import EMPTY_ROOT
from copyseal.ledger.note import NoteSigner, parse_note
from copyseal.witness.cosignature import open_cosignatures
from copyseal.witness.protocol import AddCheckpoint
from copyseal.witness.service import KEY_FILE, Refused, open_witness, parse_log_option

from .conftest import NOW, ORIGIN, SIGNER, WitnessFactory, grow, make_ledger


def _body(log: Ledger, old: int, size: int | None = None, signer: NoteSigner = SIGNER) -> bytes:
    size = log.size() if size is None else size
    checkpoint = Checkpoint(origin=ORIGIN, size=size, root=log.root_at(size))
    proof = tuple(log.consistency_proof(old, size)) if old else ()
    return AddCheckpoint(old=old, proof=proof, note=checkpoint.sign(signer)).format()


def _refused(witness_call: object, status: int, match: str | None = None) -> Refused:
    assert callable(witness_call)
    with pytest.raises(Refused, match=match) as info:
        witness_call()
    assert info.value.status == status
    return info.value


def test_the_witness_cosigns_a_growing_log(make_witness: WitnessFactory, ledger: Ledger) -> None:
    w = make_witness()
    lines = w.add_checkpoint(_body(ledger, 0, 3))
    cosigned = ledger.checkpoint_at(3)
    assert cosigned is not None
    (cosig,) = open_cosignatures(cosigned.note + lines, [w.cosigner.verifier])
    assert cosig.timestamp == NOW
    assert w.add_checkpoint(_body(ledger, 3, 7))  # with a consistency proof
    grow(ledger, 5)
    assert w.add_checkpoint(_body(ledger, 7))
    head = w.store.head(ORIGIN)
    assert head is not None and (head.size, head.root) == (12, ledger.root_at(12))
    # The witness serves what it cosigned: the log's signature and its own.
    latest = w.latest(ORIGIN)
    assert latest is not None and len(parse_note(latest).signatures) == 2
    assert open_cosignatures(latest, [w.cosigner.verifier])[0].timestamp == NOW
    # The same checkpoint again is cosigned again (same size, same root).
    assert w.add_checkpoint(_body(ledger, 12))


def test_a_stale_old_size_is_a_conflict_with_the_witness_size(
    make_witness: WitnessFactory, ledger: Ledger
) -> None:
    w = make_witness()
    w.add_checkpoint(_body(ledger, 0, 3))
    e = _refused(lambda: w.add_checkpoint(_body(ledger, 0, 7)), 409, "last cosigned size 3")
    assert e.size == 3
    assert _refused(lambda: w.add_checkpoint(_body(ledger, 1, 7)), 409).size == 3
    assert w.add_checkpoint(_body(ledger, 3, 7))


def test_a_split_view_is_refused_and_kept(
    make_witness: WitnessFactory, ledger: Ledger, tmp_path: Path
) -> None:
    """Another log under the same origin and key, with other entries: its checkpoint of
    the same size, and its proofs, are refused as a split view."""
    w = make_witness()
    w.add_checkpoint(_body(ledger, 0, 7))
    with make_ledger(tmp_path / "fork.db") as fork:
        grow(fork, 3)
        fork.append([("test", b'{"n":"rewritten"}')] * 4)
        assert fork.size() == 7 and fork.root_at(7) != ledger.root_at(7)
        _refused(lambda: w.add_checkpoint(_body(fork, 7, 7)), 422, "split view")
        grow(fork, 2)
        _refused(  # the fork's own proof from 7 does not lead from the root the witness saw
            lambda: w.add_checkpoint(_body(fork, 7, 9)), 422, "inconsistent with size 7"
        )
    kept = w.store.refusals(ORIGIN)
    assert [r.size for r in kept] == [7, 9]
    assert "split view: the witness cosigned size 7" in kept[0].reason
    assert kept[1].reason.startswith("inconsistent with size 7 the witness cosigned (a split")
    head = w.store.head(ORIGIN)
    assert head is not None and head.root == ledger.root_at(7)  # unchanged


def test_a_bad_proof_is_unprocessable(make_witness: WitnessFactory, ledger: Ledger) -> None:
    w = make_witness()
    w.add_checkpoint(_body(ledger, 0, 3))
    proof = ledger.consistency_proof(3, 7)
    note = ledger.latest_checkpoint().note
    bad = AddCheckpoint(old=3, proof=(proof[0][::-1], *proof[1:]), note=note).format()
    _refused(lambda: w.add_checkpoint(bad), 422, "does not lead")
    short = AddCheckpoint(old=3, proof=(), note=note).format()
    _refused(lambda: w.add_checkpoint(short), 422, "proof is empty")


def test_what_tlog_witness_refuses(make_witness: WitnessFactory, ledger: Ledger) -> None:
    w = make_witness()
    stranger = NoteSigner(name=ORIGIN, signing_key=SigningKey(b"\x42" * 32))
    _refused(lambda: w.add_checkpoint(b"old 0\n"), 400, "malformed")
    _refused(lambda: w.add_checkpoint(_body(ledger, 0, signer=stranger)), 403, "not signed")
    other = NoteSigner(name="copyseal.test/unknown", signing_key=SigningKey(b"\x43" * 32))
    unknown = Checkpoint(origin=other.name, size=1, root=ledger.root_at(1)).sign(other)
    _refused(
        lambda: w.add_checkpoint(AddCheckpoint(old=0, proof=(), note=unknown).format()),
        404,
        "unknown log",
    )
    beyond = AddCheckpoint(old=8, proof=(), note=ledger.latest_checkpoint().note).format()
    _refused(lambda: w.add_checkpoint(beyond), 400, "beyond")
    bad_empty = Checkpoint(origin=ORIGIN, size=0, root=ledger.root_at(3)).sign(SIGNER)
    _refused(
        lambda: w.add_checkpoint(AddCheckpoint(old=0, proof=(), note=bad_empty).format()),
        422,
        "empty tree",
    )
    proof_from_zero = AddCheckpoint(
        old=0, proof=(EMPTY_ROOT,), note=ledger.latest_checkpoint().note
    ).format()
    _refused(lambda: w.add_checkpoint(proof_from_zero), 422, "from size 0")
    # A known key's bad signature is a 403 too, even beside a good one.
    note = ledger.latest_checkpoint().note
    forged = note.replace(parse_note(note).signatures[0].line(), "") + (
        parse_note(note).signatures[0].line()[:-6] + "AAAA=\n"
    )
    _refused(lambda: w.add_checkpoint(b"old 0\n\n" + forged.encode()), 403)
    assert w.store.head(ORIGIN) is None


def test_concurrent_submissions_cannot_roll_back(
    make_witness: WitnessFactory, ledger: Ledger
) -> None:
    """Two submissions from the same old size: exactly one is cosigned (tlog-witness's race)."""
    w = make_witness()
    results: list[object] = []

    def submit(size: int) -> None:
        try:
            results.append(w.add_checkpoint(_body(ledger, 0, size)))
        except Refused as e:
            results.append(e.status)

    threads = [threading.Thread(target=submit, args=(size,)) for size in (3, 7, 3, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(r for r in results if isinstance(r, int)) == [409, 409, 409]


def test_the_key_file_is_private_and_the_name_stays(tmp_path: Path) -> None:
    w = open_witness(tmp_path / "w", logs={}, name="witness.test/w")
    key = tmp_path / "w" / KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    again = open_witness(tmp_path / "w", logs={})
    assert again.cosigner.vkey == w.cosigner.vkey
    with pytest.raises(AnchorError, match=r"named 'witness\.test/w', not 'other'"):
        open_witness(tmp_path / "w", logs={}, name="other")
    key.chmod(0o644)
    with pytest.raises(WorkspaceError, match="accessible by other users"):
        open_witness(tmp_path / "w", logs={})


def test_log_options() -> None:
    assert parse_log_option(SIGNER.vkey) == (ORIGIN, SIGNER.verifier)
    assert parse_log_option(f"other.test/log={SIGNER.vkey}") == ("other.test/log", SIGNER.verifier)
    with pytest.raises(VerificationError):
        parse_log_option("origin=not-a-vkey")
