"""RFC 6962 / RFC 9162 Merkle trees: the shared vectors, a reference, and properties."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copyseal.errors import LedgerError, VerificationError
from copyseal.ledger._merkle import (
    EMPTY_ROOT,
    RightEdge,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    subtree_keys,
    tree_root,
    verify_consistency,
    verify_inclusion,
)

from ._util import MemoryTree, b64, flip, merkle_vectors, ref_consistency, ref_mth, ref_path

CT = merkle_vectors()["ct_reference"]
GO = merkle_vectors()["go_sumdb"]
CT_TREE = MemoryTree([bytes.fromhex(x) for x in CT["leaves_hex"]])
GO_TREE = MemoryTree([f"e{i}".encode() for i in range(GO["size"])])


def test_hashes_are_domain_separated() -> None:
    # The CT reference's hash of the empty leaf, and the 0x00 / 0x01 prefixes.
    assert (
        leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert (
        node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )
    assert leaf_hash(b"\x01" + b"a" * 31) != node_hash(b"a" * 16, b"a" * 15)
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == tree_root(0, CT_TREE.read)


@pytest.mark.parametrize("n", range(1, 9))
def test_ct_reference_roots(n: int) -> None:
    assert len(CT["roots"]) == 8
    expected = b64(CT["roots"][str(n)])
    assert tree_root(n, CT_TREE.read) == expected
    assert root_from_leaf_hashes(CT_TREE.leaf_hashes[:n]) == expected


@pytest.mark.parametrize("case", CT["inclusion"], ids=lambda c: f"{c['index']}-of-{c['size']}")
def test_ct_reference_inclusion_proofs(case: dict[str, Any]) -> None:
    index, size = case["index"], case["size"]
    proof = inclusion_proof(index, size, CT_TREE.read)
    assert proof == [b64(h) for h in case["proof"]]
    root = b64(CT["roots"][str(size)])
    verify_inclusion(
        leaf_hash=CT_TREE.leaf_hashes[index], index=index, size=size, proof=proof, root=root
    )


@pytest.mark.parametrize("case", CT["consistency"], ids=lambda c: f"{c['size1']}-to-{c['size2']}")
def test_ct_reference_consistency_proofs(case: dict[str, Any]) -> None:
    old, new = case["size1"], case["size2"]
    proof = consistency_proof(old, new, CT_TREE.read)
    assert proof == [b64(h) for h in case["proof"]]
    verify_consistency(
        old_size=old,
        new_size=new,
        proof=proof,
        old_root=b64(CT["roots"][str(old)]),
        new_root=b64(CT["roots"][str(new)]),
    )


def test_go_sumdb_tree() -> None:
    root = b64(GO["root"])
    assert tree_root(GO["size"], GO_TREE.read) == root
    inc = GO["inclusion"]
    proof = inclusion_proof(inc["index"], inc["size"], GO_TREE.read)
    assert proof == [b64(h) for h in inc["proof"]]
    verify_inclusion(
        leaf_hash=leaf_hash(b"e13"), index=inc["index"], size=inc["size"], proof=proof, root=root
    )
    con = GO["consistency"]
    proof = consistency_proof(con["size1"], con["size2"], GO_TREE.read)
    assert proof == [b64(h) for h in con["proof"]]
    old_root = tree_root(con["size1"], GO_TREE.read)
    verify_consistency(
        old_size=con["size1"], new_size=con["size2"], proof=proof, old_root=old_root, new_root=root
    )


def test_proofs_read_the_store_once_with_logarithmic_keys() -> None:
    tree = MemoryTree([b"%d" % i for i in range(1000)])
    seen: list[int] = []

    def read(keys: Any) -> list[bytes]:
        seen.append(len(keys))
        return tree.read(keys)

    inclusion_proof(617, 1000, read)
    consistency_proof(333, 1000, read)
    tree_root(999, read)
    assert len(seen) == 3
    assert max(seen) <= 2 * 10  # at most two stored hashes per level


def test_subtree_keys_cover_the_range() -> None:
    assert subtree_keys(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert subtree_keys(8, 11) == [(1, 4), (0, 10)]
    with pytest.raises(LedgerError, match="not aligned"):
        subtree_keys(3, 7)


def test_right_edge_rejects_a_wrong_shape() -> None:
    with pytest.raises(LedgerError, match="size 3"):
        RightEdge(size=3, keys=[(1, 0)], hashes=[b"\x00" * 32])


def test_generation_rejects_impossible_requests() -> None:
    with pytest.raises(LedgerError, match="not in a tree of size 8"):
        inclusion_proof(8, 8, CT_TREE.read)
    with pytest.raises(LedgerError, match="from size 5 to size 4"):
        consistency_proof(5, 4, CT_TREE.read)
    with pytest.raises(LedgerError, match="wrong number"):
        inclusion_proof(0, 8, lambda keys: [])


def _inc(index: int = 2, size: int = 8, **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "leaf_hash": CT_TREE.leaf_hashes[index],
        "index": index,
        "size": size,
        "proof": inclusion_proof(index, size, CT_TREE.read),
        "root": b64(CT["roots"][str(size)]),
    }
    args.update(overrides)
    return args


def test_inclusion_verification_failures_are_precise() -> None:
    good = _inc()
    verify_inclusion(**good)
    with pytest.raises(VerificationError, match="inclusion proof: index 8 is not below"):
        verify_inclusion(**{**good, "index": 8})
    with pytest.raises(VerificationError, match="inclusion proof is shorter"):
        verify_inclusion(**{**good, "proof": good["proof"][:-1]})
    with pytest.raises(VerificationError, match="inclusion proof is longer"):
        verify_inclusion(**{**good, "proof": [*good["proof"], b"\x00" * 32]})
    with pytest.raises(VerificationError, match="inclusion proof: hash 1 is not a 32-byte"):
        verify_inclusion(**{**good, "proof": [good["proof"][0], b"short"]})
    with pytest.raises(VerificationError, match="inclusion proof for leaf 2 does not lead"):
        verify_inclusion(**{**good, "leaf_hash": leaf_hash(b"other")})


def test_consistency_verification_failures_are_precise() -> None:
    r = {n: b64(CT["roots"][str(n)]) for n in range(1, 9)}
    proof = consistency_proof(3, 7, CT_TREE.read)
    verify_consistency(old_size=3, new_size=7, proof=proof, old_root=r[3], new_root=r[7])
    with pytest.raises(VerificationError, match="old size 7 is not between 0 and new size 3"):
        verify_consistency(old_size=7, new_size=3, proof=proof, old_root=r[3], new_root=r[7])
    with pytest.raises(VerificationError, match="does not lead to the old root"):
        verify_consistency(old_size=3, new_size=7, proof=proof, old_root=r[4], new_root=r[7])
    with pytest.raises(VerificationError, match="does not lead to the new root"):
        verify_consistency(old_size=3, new_size=7, proof=proof, old_root=r[3], new_root=r[8])
    with pytest.raises(VerificationError, match="consistency proof is empty"):
        verify_consistency(old_size=3, new_size=7, proof=[], old_root=r[3], new_root=r[7])
    with pytest.raises(VerificationError, match="two different roots for size 3"):
        verify_consistency(old_size=3, new_size=3, proof=[], old_root=r[3], new_root=r[4])
    with pytest.raises(VerificationError, match="between equal sizes must be empty"):
        verify_consistency(old_size=3, new_size=3, proof=proof, old_root=r[3], new_root=r[3])
    verify_consistency(old_size=0, new_size=7, proof=[], old_root=EMPTY_ROOT, new_root=r[7])
    with pytest.raises(VerificationError, match="from the empty tree must be empty"):
        verify_consistency(old_size=0, new_size=7, proof=[], old_root=r[1], new_root=r[7])


# -- properties over random trees ---------------------------------------------------------

_tree_and_index = st.integers(1, 300).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(0, n - 1), st.binary(max_size=4))
)


@settings(max_examples=60, deadline=None)
@given(_tree_and_index, st.data())
def test_every_inclusion_proof_verifies_and_every_flipped_bit_fails(
    case: tuple[int, int, bytes], data: st.DataObject
) -> None:
    size, index, salt = case
    leaves = [salt + b"%d" % i for i in range(size)]
    tree = MemoryTree(leaves)
    proof = inclusion_proof(index, size, tree.read)
    assert proof == ref_path(index, tree.leaf_hashes)
    root = tree_root(size, tree.read)
    assert root == ref_mth(tree.leaf_hashes)
    good: dict[str, Any] = {"leaf_hash": tree.leaf_hashes[index], "index": index, "size": size}
    verify_inclusion(**good, proof=proof, root=root)

    bit = data.draw(st.integers(0, 255), label="bit")
    with pytest.raises(VerificationError, match="inclusion proof"):
        verify_inclusion(**good, proof=proof, root=flip(root, bit))
    with pytest.raises(VerificationError, match="inclusion proof"):
        verify_inclusion(
            **{**good, "leaf_hash": flip(good["leaf_hash"], bit)}, proof=proof, root=root
        )
    if proof:
        which = data.draw(st.integers(0, len(proof) - 1), label="proof hash")
        bad = [*proof[:which], flip(proof[which], bit), *proof[which + 1 :]]
        with pytest.raises(VerificationError, match="inclusion proof"):
            verify_inclusion(**good, proof=bad, root=root)
    index_bit = data.draw(st.integers(0, max(size.bit_length() - 1, 0)), label="index bit")
    if size > 1:
        with pytest.raises(VerificationError, match="inclusion proof"):
            verify_inclusion(**{**good, "index": index ^ (1 << index_bit)}, proof=proof, root=root)


_two_sizes = st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n)))


@settings(max_examples=60, deadline=None)
@given(_two_sizes, st.data())
def test_every_consistency_proof_verifies_and_every_flipped_bit_fails(
    sizes: tuple[int, int], data: st.DataObject
) -> None:
    old, new = sizes
    tree = MemoryTree([b"c%d" % i for i in range(new)])
    proof = consistency_proof(old, new, tree.read)
    assert proof == ref_consistency(old, tree.leaf_hashes)
    roots = {"old_root": tree_root(old, tree.read), "new_root": tree_root(new, tree.read)}
    verify_consistency(old_size=old, new_size=new, proof=proof, **roots)

    bit = data.draw(st.integers(0, 255), label="bit")
    for which in ("old_root", "new_root"):
        bad_roots = {**roots, which: flip(roots[which], bit)}
        with pytest.raises(VerificationError, match="consistency proof"):
            verify_consistency(old_size=old, new_size=new, proof=proof, **bad_roots)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="proof hash")
        bad = [*proof[:i], flip(proof[i], bit), *proof[i + 1 :]]
        with pytest.raises(VerificationError, match="consistency proof"):
            verify_consistency(old_size=old, new_size=new, proof=bad, **roots)
