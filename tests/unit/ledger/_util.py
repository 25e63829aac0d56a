"""Helpers shared by the ledger tests: test vectors, an in-memory tree, RFC references."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from copyseal.ledger._merkle import RightEdge, SubtreeKey, leaf_hash, node_hash

#: The Merkle and signed-note test vectors kept in the repository (``tests/vectors``; its
#: README gives their provenance).
VECTORS = Path(__file__).resolve().parents[2] / "vectors"


@cache
def merkle_vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / "merkle.json").read_text(encoding="utf-8"))
    return data


def b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def flip(value: bytes, bit: int) -> bytes:
    """``value`` with bit number ``bit`` (0 = lowest bit of the first byte) inverted."""
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


class MemoryTree:
    """Every complete-subtree hash of a list of leaves, served like the store serves them."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaf_hashes = [leaf_hash(d) for d in leaves]
        self.hashes: dict[SubtreeKey, bytes] = {}
        self.reads = 0
        edge = RightEdge()
        closed: list[tuple[int, int, bytes]] = []
        for i, h in enumerate(self.leaf_hashes):
            self.hashes[(0, i)] = h
            edge.append(h, closed)
        self.hashes.update(((lv, i), h) for lv, i, h in closed)

    def read(self, keys: Sequence[SubtreeKey]) -> list[bytes]:
        self.reads += 1
        return [self.hashes[k] for k in keys]


# Straight transcriptions of the recursive definitions in RFC 9162 §2.1.1, §2.1.3.1 and
# §2.1.4.1, used as an independent reference for the iterative, storage-backed code.


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return node_hash(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def _subproof(m: int, d: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if complete else [ref_mth(d)]
    k = _k(n)
    if m <= k:
        return [*_subproof(m, d[:k], complete), ref_mth(d[k:])]
    return [*_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_consistency(m: int, d: Sequence[bytes]) -> list[bytes]:
    return [] if m in (0, len(d)) else _subproof(m, d, True)
