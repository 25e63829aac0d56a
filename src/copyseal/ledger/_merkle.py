"""RFC 6962 / RFC 9162 Merkle tree hashing, proof generation and proof verification.

Pure functions over bytes; nothing here touches a database. The tree is the Merkle Tree
Hash (MTH) of RFC 9162 §2.1.1 with SHA-256, so proofs are byte-compatible with
Certificate Transparency, Go's ``golang.org/x/mod/sumdb/tlog`` and Sigstore.

Storage model (the one Go's ``tlog`` uses): a *complete subtree* ``(level, index)`` is the
perfect subtree of ``2**level`` leaves covering ``[index * 2**level, (index + 1) *
2**level)``. Its hash never changes once the log has grown past it, so a store can keep
every complete-subtree hash and answer any proof for any tree size with O(log n) reads:
every node of the RFC 9162 §2.1.3.1 / §2.1.4.1 recursion is either a complete subtree or
the right-edge fold of a few of them (:func:`subtree_keys`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from copyseal.errors import LedgerError, VerificationError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_HASH_PREFIX",
    "NODE_HASH_PREFIX",
    "HashReader",
    "RightEdge",
    "SubtreeKey",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_leaf_hashes",
    "subtree_keys",
    "tree_root",
    "verify_consistency",
    "verify_inclusion",
]

#: Domain separation byte for leaves, RFC 9162 §2.1.1 (``MTH({d(0)}) = HASH(0x00 || d(0))``).
LEAF_HASH_PREFIX = b"\x00"
#: Domain separation byte for interior nodes, RFC 9162 §2.1.1 (``HASH(0x01 || left || right)``).
NODE_HASH_PREFIX = b"\x01"
#: SHA-256 output size in bytes.
HASH_SIZE = 32
#: MTH of the empty tree: the hash of the empty string (RFC 9162 §2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: ``(level, index)`` of a complete subtree covering ``[index << level, (index + 1) << level)``.
SubtreeKey = tuple[int, int]
#: Reads stored complete-subtree hashes, returning them in the order of the keys given.
HashReader = Callable[[Sequence[SubtreeKey]], Sequence[bytes]]

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """The RFC 9162 §2.1.1 leaf hash: ``SHA-256(0x00 || data)``."""
    return _sha256(LEAF_HASH_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 9162 §2.1.1 interior node hash: ``SHA-256(0x01 || left || right)``."""
    return _sha256(NODE_HASH_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``k`` in RFC 9162 §2.1.1), for n > 1."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_keys(lo: int, hi: int) -> list[SubtreeKey]:
    """The complete subtrees, left to right, whose fold is ``MTH(D[lo:hi])``.

    ``lo`` must be a multiple of the largest power of two not above ``hi - lo``, which holds
    for every range the RFC 9162 recursion visits and for ``[0, size)``.
    """
    keys: list[SubtreeKey] = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        if lo & ((1 << level) - 1):
            raise LedgerError(f"range [{lo}, {hi}) is not aligned to complete subtrees")
        keys.append((level, lo >> level))
        lo += 1 << level
    return keys


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Hash complete subtrees (left to right, decreasing sizes) into their MTH."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def _resolve(plan: list[list[SubtreeKey]], read: HashReader) -> list[bytes]:
    """Read every key of a proof plan in one call and fold each group into one hash."""
    wanted = list(dict.fromkeys(k for group in plan for k in group))
    if not wanted:
        return []
    got = read(wanted)
    if len(got) != len(wanted) or any(len(h) != HASH_SIZE for h in got):
        raise LedgerError("hash reader returned the wrong number or size of hashes")
    found = dict(zip(wanted, got, strict=True))
    return [_fold([found[k] for k in group]) for group in plan]


def tree_root(size: int, read: HashReader) -> bytes:
    """MTH of the first ``size`` leaves from stored complete-subtree hashes."""
    if size < 0:
        raise LedgerError(f"tree size {size} is negative")
    if size == 0:
        return EMPTY_ROOT
    return _resolve([subtree_keys(0, size)], read)[0]


def inclusion_proof(index: int, size: int, read: HashReader) -> list[bytes]:
    """The RFC 9162 §2.1.3.1 audit path ``PATH(index, D[0:size])``, leaf side first."""
    if not 0 <= index < size:
        raise LedgerError(f"leaf index {index} is not in a tree of size {size}")
    plan: list[list[SubtreeKey]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            plan.append(subtree_keys(lo + k, hi))
            hi = lo + k
        else:
            plan.append(subtree_keys(lo, lo + k))
            lo += k
    plan.reverse()
    return _resolve(plan, read)


def consistency_proof(old_size: int, new_size: int, read: HashReader) -> list[bytes]:
    """The RFC 9162 §2.1.4.1 proof ``PROOF(old_size, D[0:new_size])``, bottom first."""
    if not 0 <= old_size <= new_size:
        raise LedgerError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    plan: list[list[SubtreeKey]] = []
    lo, hi, complete = 0, new_size, True
    while old_size != hi:
        k = _split(hi - lo)
        if old_size - lo <= k:
            plan.append(subtree_keys(lo + k, hi))
            hi = lo + k
        else:
            plan.append(subtree_keys(lo, lo + k))
            lo += k
            complete = False
    if not complete:
        plan.append(subtree_keys(lo, hi))
    plan.reverse()
    return _resolve(plan, read)


def root_from_leaf_hashes(leaf_hashes: Iterable[bytes]) -> bytes:
    """MTH of a whole list of leaf hashes (O(n) time, O(log n) memory)."""
    edge = RightEdge()
    for h in leaf_hashes:
        edge.append(h)
    return edge.root()


class RightEdge:
    """The hashes of the complete subtrees along the right edge of a growing tree.

    For a tree of ``size`` leaves these are exactly :func:`subtree_keys` ``(0, size)``; it is
    all a log needs in memory to append leaves and compute the new root (the "compact
    range" of Go's ``tlog.StoredHashes``). Appending reports every complete subtree it
    closes, so a store can persist them.
    """

    __slots__ = ("_hashes", "_levels", "size")

    def __init__(
        self, *, size: int = 0, keys: Sequence[SubtreeKey] = (), hashes: Sequence[bytes] = ()
    ) -> None:
        if list(keys) != subtree_keys(0, size) or len(hashes) != len(keys):
            raise LedgerError(f"right edge hashes do not describe a tree of size {size}")
        self.size = size
        self._levels = [level for level, _ in keys]
        self._hashes = list(hashes)

    def copy(self) -> RightEdge:
        """An independent copy (appending to it leaves this edge unchanged)."""
        clone = RightEdge()
        clone.size = self.size
        clone._levels = list(self._levels)
        clone._hashes = list(self._hashes)
        return clone

    def append(self, leaf: bytes, closed: list[tuple[int, int, bytes]] | None = None) -> None:
        """Add one leaf hash; append each newly completed ``(level, index, hash)`` (level ≥ 1)
        to ``closed`` if given."""
        levels, hashes = self._levels, self._hashes
        levels.append(0)
        hashes.append(leaf)
        end = self.size  # index of the last leaf of the subtree being closed
        self.size += 1
        while len(levels) > 1 and levels[-1] == levels[-2]:
            right = hashes.pop()
            level = levels.pop() + 1
            h = node_hash(hashes[-1], right)
            hashes[-1] = h
            levels[-1] = level
            if closed is not None:
                closed.append((level, end >> level, h))

    def keys(self) -> list[SubtreeKey]:
        """The ``(level, index)`` of each hash on the edge, left to right."""
        return subtree_keys(0, self.size)

    def root(self) -> bytes:
        """MTH of the tree so far (RFC 9162 §2.1.1)."""
        return _fold(self._hashes) if self._hashes else EMPTY_ROOT


def _check_hash(h: bytes, what: str) -> None:
    if not isinstance(h, bytes) or len(h) != HASH_SIZE:
        raise VerificationError(f"{what} is not a {HASH_SIZE}-byte SHA-256 hash")


def verify_inclusion(
    *, leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check an inclusion proof with the algorithm of RFC 9162 §2.1.3.2.

    Raises:
        VerificationError: the proof is malformed or does not lead from the leaf to ``root``.
    """
    _check_hash(leaf_hash, "inclusion proof: leaf hash")
    _check_hash(root, "inclusion proof: root hash")
    for i, p in enumerate(proof):
        _check_hash(p, f"inclusion proof: hash {i}")
    if not 0 <= index < size:
        raise VerificationError(f"inclusion proof: index {index} is not below tree size {size}")
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise VerificationError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("inclusion proof is shorter than the tree is deep")
    if r != root:
        raise VerificationError(
            f"inclusion proof for leaf {index} does not lead to the root of tree size {size}"
        )


def verify_consistency(
    *, old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check a consistency proof with the algorithm of RFC 9162 §2.1.4.2.

    A tree of size 0 is consistent with every tree (its proof is empty and its root is
    :data:`EMPTY_ROOT`).

    Raises:
        VerificationError: the proof is malformed, or the two roots are not the same log
            at two sizes.
    """
    _check_hash(old_root, "consistency proof: old root")
    _check_hash(new_root, "consistency proof: new root")
    for i, p in enumerate(proof):
        _check_hash(p, f"consistency proof: hash {i}")
    if not 0 <= old_size <= new_size:
        raise VerificationError(
            f"consistency proof: old size {old_size} is not between 0 and new size {new_size}"
        )
    if old_size == 0:
        if proof or old_root != EMPTY_ROOT:
            raise VerificationError("consistency proof from the empty tree must be empty")
        return
    if old_size == new_size:
        if proof:
            raise VerificationError("consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise VerificationError(f"consistency proof: two different roots for size {old_size}")
        return
    if not proof:
        raise VerificationError("consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # step 1: an exact power of 2 is its own subtree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:  # step 3
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("consistency proof is shorter than the tree is deep")
    if fr != old_root:
        raise VerificationError(
            f"consistency proof does not lead to the old root (size {old_size})"
        )
    if sr != new_root:
        raise VerificationError(
            f"consistency proof does not lead to the new root (size {new_size})"
        )
