"""Offline verification of receipts: files, keys, and no database anywhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from copyseal.errors import VerificationError
from copyseal.ledger.checkpoint import Checkpoint
from copyseal.ledger.merkle import RightEdge, inclusion_proof, leaf_hash
from copyseal.ledger.note import NoteSigner
from copyseal.ledger.proof import Receipt
from copyseal.verify import ReceiptVerification, load_vkey, verify_receipt_file

SIGNER = NoteSigner(name="copyseal.test/ledger", signing_key=SigningKey(b"\x21" * 32))
LEAVES = [b'{"n":%d,"type":"test"}' % i for i in range(11)]


def _receipt_text(index: int) -> str:
    hashes: dict[tuple[int, int], bytes] = {}
    edge = RightEdge()
    closed: list[tuple[int, int, bytes]] = []
    for i, data in enumerate(LEAVES):
        hashes[(0, i)] = leaf_hash(data)
        edge.append(leaf_hash(data), closed)
    hashes.update(((lv, i), h) for lv, i, h in closed)
    proof = inclusion_proof(index, len(LEAVES), lambda keys: [hashes[k] for k in keys])
    note = Checkpoint(origin=SIGNER.name, size=len(LEAVES), root=edge.root()).sign(SIGNER)
    return Receipt(index=index, proof=tuple(proof), checkpoint_note=note).format()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "receipt": tmp_path / "entry-4.tlog-proof",
        "data": tmp_path / "statement.json",
        "vkey": tmp_path / "ledger.vkey",
    }
    paths["receipt"].write_text(_receipt_text(4), encoding="utf-8")
    paths["data"].write_bytes(LEAVES[4])
    paths["vkey"].write_text(SIGNER.vkey + "\n", encoding="utf-8")
    return paths


def test_a_receipt_file_verifies_with_the_data_and_the_vkey(files: dict[str, Path]) -> None:
    result = verify_receipt_file(files["receipt"], vkey=str(files["vkey"]), data=files["data"])
    assert result == ReceiptVerification(
        origin="copyseal.test/ledger",
        index=4,
        size=11,
        root=result.root,
        leaf_hash=leaf_hash(LEAVES[4]),
    )
    assert verify_receipt_file(files["receipt"], vkey=SIGNER.vkey, data=LEAVES[4]) == result
    assert (
        verify_receipt_file(files["receipt"], vkey=SIGNER.vkey, leaf=leaf_hash(LEAVES[4])) == result
    )


def test_wrong_data_key_or_files_fail(files: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(VerificationError, match="inclusion proof for leaf 4"):
        verify_receipt_file(files["receipt"], vkey=SIGNER.vkey, data=LEAVES[5])
    other = NoteSigner(name="copyseal.test/ledger", signing_key=SigningKey(b"\x22" * 32))
    with pytest.raises(VerificationError, match="no verified signature"):
        verify_receipt_file(files["receipt"], vkey=other.vkey, data=LEAVES[4])
    with pytest.raises(VerificationError, match="cannot read the receipt"):
        verify_receipt_file(tmp_path / "missing", vkey=SIGNER.vkey, data=LEAVES[4])
    with pytest.raises(VerificationError, match="cannot read the data file"):
        verify_receipt_file(files["receipt"], vkey=SIGNER.vkey, data=tmp_path / "missing")
    with pytest.raises(VerificationError, match="exactly one of the data or its leaf hash"):
        verify_receipt_file(files["receipt"], vkey=SIGNER.vkey)
    with pytest.raises(VerificationError, match="32 bytes"):
        verify_receipt_file(files["receipt"], vkey=SIGNER.vkey, leaf=b"short")
    with pytest.raises(VerificationError, match="malformed verifier key"):
        verify_receipt_file(files["receipt"], vkey=str(tmp_path / "no-such.vkey"), data=LEAVES[4])


def test_load_vkey_reads_inline_keys_and_files(files: dict[str, Path], tmp_path: Path) -> None:
    assert load_vkey(SIGNER.vkey) == SIGNER.vkey
    assert load_vkey(str(files["vkey"])) == SIGNER.vkey
    big = tmp_path / "big.vkey"
    big.write_text("x" * 5000, encoding="utf-8")
    with pytest.raises(VerificationError, match="too large"):
        load_vkey(str(big))


def test_verification_imports_no_database_code() -> None:
    code = (
        "import sys, copyseal.verify, copyseal.ledger.proof\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic')"
        " or m in ('copyseal.ledger.store', 'copyseal.db')]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_receipts_checkpoint_is_proven_through_the_anchor_table(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receipt kind's table entry decides whether the checkpoint is proven."""
    from copyseal.anchors import AnchorVerificationError, LedgerAnchor, table

    class Refusing(LedgerAnchor):
        def verify(self, proof: bytes, checkpoint: Checkpoint) -> Any:
            raise AnchorVerificationError("refused by the test anchor")

    assert verify_receipt_file(files["receipt"], vkey=SIGNER.vkey, data=LEAVES[4]).size == 11
    monkeypatch.setattr(table, "ANCHORS", {"ledger": Refusing})
    with pytest.raises(VerificationError, match="refused by the test anchor"):
        verify_receipt_file(files["receipt"], vkey=SIGNER.vkey, data=LEAVES[4])


def test_a_receipt_for_another_origin_is_refused_when_an_origin_is_expected(
    files: dict[str, Path],
) -> None:
    with pytest.raises(VerificationError, match=r"expected 'copyseal\.test/other'"):
        verify_receipt_file(
            files["receipt"], vkey=SIGNER.vkey, data=LEAVES[4], origin="copyseal.test/other"
        )
