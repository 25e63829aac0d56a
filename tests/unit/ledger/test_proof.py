"""C2SP tlog-proof@v1 receipts: format, parse, offline verification and tampering."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from copyseal.errors import LedgerError, VerificationError
from copyseal.ledger._merkle import consistency_proof, inclusion_proof, leaf_hash, tree_root
from copyseal.ledger.checkpoint import Checkpoint
from copyseal.ledger.note import NoteSigner
from copyseal.ledger.proof import (
    HEADER,
    Receipt,
    parse_receipt,
    verify_checkpoint_consistency,
    verify_receipt,
    verify_receipt_hash,
)

from ._util import MemoryTree, flip

ORIGIN = "example.com/ledger"
SIGNER = NoteSigner(name=ORIGIN, signing_key=SigningKey(b"\x05" * 32))
VKEY = SIGNER.vkey


def _leaves(n: int) -> list[bytes]:
    return [b'{"type":"test","n":%d}' % i for i in range(n)]


def _receipt(tree: MemoryTree, index: int, size: int, signer: NoteSigner = SIGNER) -> str:
    root = tree_root(size, tree.read)
    note = Checkpoint(origin=signer.name, size=size, root=root).sign(signer)
    proof = tuple(inclusion_proof(index, size, tree.read))
    return Receipt(index=index, proof=proof, checkpoint_note=note).format()


def test_receipt_layout_matches_the_spec() -> None:
    tree = MemoryTree(_leaves(5))
    text = _receipt(tree, 1, 5)
    lines = text.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    assert lines[1] == "index 1"
    assert [base64.b64decode(x) for x in lines[2:5]] == inclusion_proof(1, 5, tree.read)
    assert lines[5] == ""
    assert lines[6:9] == [ORIGIN, "5", base64.b64encode(tree_root(5, tree.read)).decode()]
    assert lines[9] == "" and lines[10].startswith("\u2014 " + ORIGIN + " ")
    assert text.endswith("\n")


def test_receipt_round_trips_with_extra_data() -> None:
    tree = MemoryTree(_leaves(3))
    base = parse_receipt(_receipt(tree, 2, 3))
    receipt = Receipt(
        index=2, proof=base.proof, checkpoint_note=base.checkpoint_note, extra=b"\x00ctx"
    )
    text = receipt.format()
    assert text.split("\n")[1] == "extra AGN0eA=="
    assert parse_receipt(text) == receipt
    assert parse_receipt(text.encode()) == receipt
    assert verify_receipt(text, _leaves(3)[2], VKEY).size == 3


def test_single_leaf_receipt_has_no_proof_lines() -> None:
    text = _receipt(MemoryTree(_leaves(1)), 0, 1)
    assert text.startswith(f"{HEADER}\nindex 0\n\n{ORIGIN}\n1\n")
    assert verify_receipt(text, _leaves(1)[0], VKEY).root == leaf_hash(_leaves(1)[0])


def test_every_receipt_of_a_tree_verifies() -> None:
    leaves = _leaves(37)
    tree = MemoryTree(leaves)
    for i, data in enumerate(leaves):
        cp = verify_receipt(_receipt(tree, i, 37), data, VKEY)
        assert (cp.origin, cp.size, cp.root) == (ORIGIN, 37, tree_root(37, tree.read))
        assert verify_receipt_hash(_receipt(tree, i, 37), leaf_hash(data), VKEY) == cp
    with pytest.raises(VerificationError, match="inclusion proof for leaf 3"):
        verify_receipt(_receipt(tree, 3, 37), leaves[4], VKEY)


def test_receipt_checks_key_and_origin() -> None:
    tree = MemoryTree(_leaves(4))
    text = _receipt(tree, 0, 4)
    other = NoteSigner(name=ORIGIN, signing_key=SigningKey(b"\x06" * 32))
    with pytest.raises(VerificationError, match="no verified signature"):
        verify_receipt(text, _leaves(4)[0], other.vkey)
    with pytest.raises(VerificationError, match=r"expected 'example\.com/elsewhere'"):
        verify_receipt(text, _leaves(4)[0], VKEY, origin="example.com/elsewhere")
    with pytest.raises(VerificationError, match="malformed verifier key"):
        verify_receipt(text, _leaves(4)[0], "not a key")


def test_index_beyond_the_checkpoint_fails() -> None:
    tree = MemoryTree(_leaves(4))
    receipt = parse_receipt(_receipt(tree, 3, 4))
    moved = Receipt(index=4, proof=receipt.proof, checkpoint_note=receipt.checkpoint_note)
    with pytest.raises(
        VerificationError, match="inclusion proof: index 4 is not below tree size 4"
    ):
        verify_receipt(moved.format(), _leaves(4)[3], VKEY)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda t: t.replace(HEADER, "c2sp.org/tlog-proof@v2"), "first line"),
        (lambda t: t.replace("index 2\n", "index 02\n"), "index N"),
        (lambda t: t.replace("index 2\n", "index -2\n"), "index N"),
        (lambda t: t.replace("index 2\n", ""), "index N"),
        (lambda t: t.replace("index 2\n", "index 2\n!!!!\n"), "proof hash is not base64"),
        (lambda t: t.replace("index 2\n", "index 2\nAAAA\n"), "proof hash is not 32 bytes"),
        (lambda t: t.replace("\n\n", "\n", 1), "not base64"),
        (lambda t: t.split("\n\n")[0], "no blank line"),
        (lambda t: "x" * (1 << 21), "too large"),
    ],
)
def test_malformed_receipts_are_rejected(mutate: object, match: str) -> None:
    text = _receipt(MemoryTree(_leaves(6)), 2, 6)
    assert callable(mutate)
    with pytest.raises(VerificationError, match=f"malformed receipt: .*{match}"):
        verify_receipt(mutate(text), _leaves(6)[2], VKEY)


def test_invalid_receipts_cannot_be_built() -> None:
    with pytest.raises(LedgerError, match="negative"):
        Receipt(index=-1, proof=(), checkpoint_note="x\n")
    with pytest.raises(LedgerError, match="32 bytes"):
        Receipt(index=0, proof=(b"x",), checkpoint_note="x\n")


_case = st.integers(1, 200).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1)))


@settings(max_examples=40, deadline=None)
@given(_case, st.data())
def test_any_flipped_bit_in_proof_root_leaf_or_size_fails(
    case: tuple[int, int], data: st.DataObject
) -> None:
    size, index = case
    leaves = _leaves(size)
    tree = MemoryTree(leaves)
    text = _receipt(tree, index, size)
    verify_receipt(text, leaves[index], VKEY)
    receipt = parse_receipt(text)
    origin, size_line, root_line, _ = receipt.checkpoint_note.split("\n", 3)

    # A flipped bit in the leaf data.
    bit = data.draw(st.integers(0, len(leaves[index]) * 8 - 1), label="leaf bit")
    with pytest.raises(VerificationError, match="inclusion proof"):
        verify_receipt(text, flip(leaves[index], bit), VKEY)
    # In a proof hash.
    if receipt.proof:
        i = data.draw(st.integers(0, len(receipt.proof) - 1), label="proof hash")
        bit = data.draw(st.integers(0, 255), label="proof bit")
        proof = (*receipt.proof[:i], flip(receipt.proof[i], bit), *receipt.proof[i + 1 :])
        bad = Receipt(index=index, proof=proof, checkpoint_note=receipt.checkpoint_note)
        with pytest.raises(VerificationError, match="inclusion proof"):
            verify_receipt(bad.format(), leaves[index], VKEY)
    # In the signed root or size: the signature no longer matches.
    root_bit = data.draw(st.integers(0, 255), label="root bit")
    size_bit = data.draw(st.integers(0, 62), label="size bit")
    bad_root = base64.b64encode(flip(base64.b64decode(root_line), root_bit)).decode()
    for body in (
        f"{origin}\n{size_line}\n{bad_root}\n",
        f"{origin}\n{size ^ (1 << size_bit)}\n{root_line}\n",
    ):
        note = body + receipt.checkpoint_note[receipt.checkpoint_note.index("\n\n") + 1 :]
        bad = Receipt(index=index, proof=receipt.proof, checkpoint_note=note)
        with pytest.raises(VerificationError, match="invalid note signature"):
            verify_receipt(bad.format(), leaves[index], VKEY)
    # A log that re-signs a flipped root with its own key still cannot prove inclusion.
    forged = Checkpoint(origin=ORIGIN, size=size, root=base64.b64decode(bad_root)).sign(SIGNER)
    bad = Receipt(index=index, proof=receipt.proof, checkpoint_note=forged)
    with pytest.raises(VerificationError, match="inclusion proof"):
        verify_receipt(bad.format(), leaves[index], VKEY)


def test_checkpoint_consistency_between_signed_notes() -> None:
    leaves = _leaves(50)
    tree = MemoryTree(leaves)
    old = Checkpoint(origin=ORIGIN, size=20, root=tree_root(20, tree.read)).sign(SIGNER)
    new = Checkpoint(origin=ORIGIN, size=50, root=tree_root(50, tree.read)).sign(SIGNER)
    proof = consistency_proof(20, 50, tree.read)
    a, b = verify_checkpoint_consistency(old, new, proof, VKEY)
    assert (a.size, b.size) == (20, 50)

    rewritten = MemoryTree([*leaves[:7], b"changed", *leaves[8:]])
    new2 = Checkpoint(origin=ORIGIN, size=50, root=tree_root(50, rewritten.read)).sign(SIGNER)
    with pytest.raises(VerificationError, match="consistency proof does not lead to the old root"):
        verify_checkpoint_consistency(old, new2, consistency_proof(20, 50, rewritten.read), VKEY)
