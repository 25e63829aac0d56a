"""Merkle-Patricia tries of a block's transactions and receipts (Yellow Paper, appendix D).

A block's ``transactionsRoot`` and ``receiptsRoot`` are the roots of tries keyed by
``rlp(index)`` whose values are the transactions and receipts as EIP-2718 encodes them
(``type || rlp(fields)``, or the plain RLP list of a legacy one). :func:`build` makes a
trie; :meth:`Trie.proof` gives the proof of one key (the RLP of the nodes on the path from
the root that are referenced by their Keccak-256 hash: nodes whose RLP is shorter than 32
bytes sit inside their parent); :func:`verify` walks such a proof from a root, trusting
nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from copyseal.anchors.evm._rlp import Item, decode, encode, encode_int, keccak256
from copyseal.errors import AnchorVerificationError

__all__ = ["Trie", "build", "index_key", "verify"]

_BRANCH = 17  # sixteen children by nibble, and a value
_HASH = 32  # nodes whose RLP is shorter than a hash are inlined in their parent


def index_key(index: int) -> bytes:
    """The trie key of the ``index``-th transaction or receipt: ``rlp(index)``."""
    return encode(encode_int(index))


def _nibbles(key: bytes) -> tuple[int, ...]:
    return tuple(n for byte in key for n in (byte >> 4, byte & 0x0F))


def _compact(path: Sequence[int], *, leaf: bool) -> bytes:
    """Hex-prefix encoding of a nibble path (Yellow Paper, appendix C)."""
    flag = 2 if leaf else 0
    nibbles = [flag + 1, *path] if len(path) % 2 else [flag, 0, *path]
    return bytes(nibbles[i] << 4 | nibbles[i + 1] for i in range(0, len(nibbles), 2))


def _uncompact(data: bytes) -> tuple[tuple[int, ...], bool]:
    """A hex-prefix path and whether it ends a leaf; only the canonical form."""
    if not data:
        raise AnchorVerificationError("trie proof: a node with an empty path")
    nibbles = _nibbles(data)
    flag = nibbles[0]
    if flag > 3 or (not flag & 1 and nibbles[1] != 0):
        raise AnchorVerificationError("trie proof: a malformed node path")
    return nibbles[1 if flag & 1 else 2 :], flag >= 2


@dataclass(frozen=True, kw_only=True)
class Trie:
    """A built trie: its root hash and the RLP of every node referenced by hash."""

    root: bytes
    nodes: dict[bytes, bytes]

    def proof(self, key: bytes) -> list[bytes]:
        """The hashed nodes on the path to ``key``, root first."""
        path, proof = _nibbles(key), []
        reference: Item = self.root
        while True:
            if isinstance(reference, bytes):
                proof.append(self.nodes[reference])
                node = decode(self.nodes[reference])
            else:
                node = reference
            assert isinstance(node, list)
            if len(node) == _BRANCH:
                reference, path = node[path[0]], path[1:]
                continue
            assert isinstance(node[0], bytes)
            segment, leaf = _uncompact(node[0])
            if leaf:
                return proof
            reference, path = node[1], path[len(segment) :]


def _reference(node: Item, nodes: dict[bytes, bytes]) -> Item:
    encoded = encode(node)
    if len(encoded) < _HASH:
        return node
    digest = keccak256(encoded)
    nodes[digest] = encoded
    return digest


def _node(
    items: list[tuple[tuple[int, ...], bytes]], depth: int, nodes: dict[bytes, bytes]
) -> Item:
    if len(items) == 1:
        key, value = items[0]
        return [_compact(key[depth:], leaf=True), value]
    if any(len(k) == depth for k, _ in items):  # RLP keys are prefix-free
        raise ValueError("a trie key is a prefix of another")
    common = depth
    while all(len(k) > common and k[common] == items[0][0][common] for k, _ in items):
        common += 1
    if common > depth:
        child = _reference(_node(items, common, nodes), nodes)
        return [_compact(items[0][0][depth:common], leaf=False), child]
    branch: list[Item] = [b""] * _BRANCH
    for nibble in range(16):
        group = [(k, v) for k, v in items if k[depth] == nibble]
        if group:
            branch[nibble] = _reference(_node(group, depth + 1, nodes), nodes)
    return branch


def build(values: Sequence[bytes]) -> Trie:
    """The trie of ``values`` keyed by their index (a block's transactions or receipts)."""
    if not values:
        raise ValueError("a block's trie holds at least one value here")
    nodes: dict[bytes, bytes] = {}
    items = [(_nibbles(index_key(i)), value) for i, value in enumerate(values)]
    encoded = encode(_node(items, 0, nodes))
    root = keccak256(encoded)  # the root is hashed whatever its length
    nodes[root] = encoded
    return Trie(root=root, nodes=nodes)


def verify(root: bytes, key: bytes, proof: Sequence[bytes]) -> bytes:
    """The value ``proof`` proves for ``key`` in the trie of root hash ``root``.

    Every node of the proof must be used, in order.

    Raises:
        AnchorVerificationError: the proof does not lead from ``root`` to a value for ``key``.
    """
    path = _nibbles(key)
    reference: Item = root
    used = 0
    while True:
        if isinstance(reference, bytes):
            if len(reference) != _HASH:
                raise AnchorVerificationError("trie proof: a reference that is no hash")
            if used >= len(proof) or keccak256(proof[used]) != reference:
                raise AnchorVerificationError("trie proof: a node does not match its hash")
            node = decode(proof[used])
            used += 1
        else:
            node = reference
        if not isinstance(node, list) or len(node) not in (2, _BRANCH):
            raise AnchorVerificationError("trie proof: a malformed node")
        if len(node) == _BRANCH:
            if not path:
                raise AnchorVerificationError("trie proof: the key ends at a branch")
            reference, path = node[path[0]], path[1:]
            if reference == b"":
                raise AnchorVerificationError("trie proof: no value for the key")
            continue
        if not isinstance(node[0], bytes):
            raise AnchorVerificationError("trie proof: a malformed node")
        segment, leaf = _uncompact(node[0])
        if path[: len(segment)] != segment:
            raise AnchorVerificationError("trie proof: no value for the key")
        path = path[len(segment) :]
        if leaf:
            if path or not isinstance(node[1], bytes):
                raise AnchorVerificationError("trie proof: no value for the key")
            if used != len(proof):
                raise AnchorVerificationError("trie proof: nodes after the value")
            return node[1]
        reference = node[1]
