"""Static C2SP tiled transparency logs (https://c2sp.org/tlog-tiles).

:func:`export_tiles` writes the log as files anyone can serve and mirror::

    <dir>/checkpoint                    the latest signed checkpoint
    <dir>/tile/<L>/<N>[.p/<W>]          256 hashes (8,192 bytes) per full tile
    <dir>/tile/entries/<N>[.p/<W>]      entry bundles: uint16 big-endian length + entry

A level-``L`` tile hash is the hash of a complete subtree of ``256**L`` leaves, i.e. the
stored subtree ``(8 * L, index)``; so tiles are straight reads of what the store keeps.
A tile path names immutable content (the log is append-only), so files already written
are kept; partial tiles are written for every checkpointed size whose full tile does not
exist yet, as the spec requires.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from copyseal.errors import LedgerError, VerificationError
from copyseal.files import publish_bytes
from copyseal.ledger._merkle import EMPTY_ROOT, HASH_SIZE, SubtreeKey, node_hash, subtree_keys

if TYPE_CHECKING:
    from copyseal.ledger.store import Ledger

__all__ = [
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "TilesExport",
    "decode_entry_bundle",
    "encode_entry_bundle",
    "export_tiles",
    "root_from_tiles",
    "tile_path",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
_MAX_ENTRY = 0xFFFF  # entry bundles prefix each entry with a big-endian uint16 length


def tile_path(level: int | str, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]`` with N in 3-digit path elements (``x001/x234/067``)."""
    digits = f"{index:03d}"
    digits = "0" * (-len(digits) % 3) + digits
    parts = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    n = "/".join([*("x" + p for p in parts[:-1]), parts[-1]])
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{n}{suffix}"


def encode_entry_bundle(entries: Sequence[bytes], *, first: int = 0) -> bytes:
    """Entries as one bundle: each prefixed by its length as a big-endian uint16."""
    out = bytearray()
    for offset, data in enumerate(entries):
        if len(data) > _MAX_ENTRY:
            raise LedgerError(
                f"entry {first + offset} is {len(data):,} bytes; tlog-tiles bundles hold at most"
                f" {_MAX_ENTRY:,}"
            )
        out += struct.pack(">H", len(data)) + data
    return bytes(out)


def decode_entry_bundle(bundle: bytes) -> list[bytes]:
    """Split an entry bundle back into entries.

    Raises:
        VerificationError: the bundle is truncated.
    """
    entries, pos = [], 0
    while pos < len(bundle):
        if pos + 2 > len(bundle):
            raise VerificationError("entry bundle: truncated length prefix")
        (length,) = struct.unpack_from(">H", bundle, pos)
        if pos + 2 + length > len(bundle):
            raise VerificationError("entry bundle: truncated entry")
        entries.append(bundle[pos + 2 : pos + 2 + length])
        pos += 2 + length
    return entries


def root_from_tiles(directory: Path, size: int) -> bytes:
    """Recompute the tree root of ``size`` leaves from exported tiles, as a client of the
    tiles API would (falling back to the full tile when a partial one was dropped).

    Raises:
        OSError: a tile the tree needs is missing.
    """
    if size == 0:
        return EMPTY_ROOT

    def subtree(key: SubtreeKey) -> bytes:
        level, index = key
        tile_level, within = divmod(level, TILE_HEIGHT)
        # The 2**within tile hashes below this subtree, folded as a perfect tree.
        first = index << within
        n, offset = divmod(first, TILE_WIDTH)
        width = min(TILE_WIDTH, (size >> (TILE_HEIGHT * tile_level)) - n * TILE_WIDTH)
        path = directory / tile_path(tile_level, n, width)
        if not path.exists():  # a partial tile may be gone once its full tile exists
            path = directory / tile_path(tile_level, n)
        raw = path.read_bytes()
        hashes = [raw[i : i + HASH_SIZE] for i in range(0, len(raw), HASH_SIZE)]
        layer = hashes[offset : offset + (1 << within)]
        while len(layer) > 1:
            layer = [node_hash(layer[i], layer[i + 1]) for i in range(0, len(layer), 2)]
        return layer[0]

    hashes = [subtree(k) for k in subtree_keys(0, size)]
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


@dataclass(frozen=True, kw_only=True)
class TilesExport:
    """What :func:`export_tiles` wrote."""

    size: int
    tiles_written: int
    bundles_written: int


def _write(path: Path, data: bytes) -> None:
    # Readers (a mirror, a web server) never see half a tile; the checkpoint is replaced.
    publish_bytes(path, data, overwrite=True)


def _tiles_for(size: int) -> Iterator[tuple[int, int, int]]:
    """``(level, index, width)`` of every tile (full and the partial one) per level."""
    level = 0
    while size >> (TILE_HEIGHT * level):
        count = size >> (TILE_HEIGHT * level)
        for n in range(count // TILE_WIDTH):
            yield level, n, TILE_WIDTH
        if count % TILE_WIDTH:
            yield level, count // TILE_WIDTH, count % TILE_WIDTH
        level += 1


def export_tiles(ledger: Ledger, directory: Path) -> TilesExport:
    """Write the log as static C2SP tlog-tiles under ``directory``.

    Re-running it after more appends adds only the new tiles and replaces the checkpoint
    last, so a mirror is always consistent.
    """
    latest = ledger.latest_checkpoint()
    size = latest.size
    wanted = set(_tiles_for(size))
    full = {(lv, n) for lv, n, w in wanted if w == TILE_WIDTH}
    for cp in ledger.checkpoints():  # partial tiles of earlier checkpoints still needed
        wanted.update(t for t in _tiles_for(cp.size) if t[2] != TILE_WIDTH and t[:2] not in full)
    tiles = bundles = 0
    for level, n, width in sorted(wanted):
        path = directory / tile_path(level, n, width)
        bundle_path = directory / tile_path("entries", n, width)
        if path.exists() and (level or bundle_path.exists()):
            continue  # every tile path, partial ones too, names immutable content
        start = n * TILE_WIDTH
        _write(path, b"".join(ledger.hashes(TILE_HEIGHT * level, start, start + width)))
        tiles += 1
        if level == 0:
            data = ledger.leaf_data(start, start + width)
            _write(bundle_path, encode_entry_bundle(data, first=start))
            bundles += 1
    _write(directory / "checkpoint", latest.note.encode("utf-8"))
    return TilesExport(size=size, tiles_written=tiles, bundles_written=bundles)
