"""The file :class:`~copyseal.match.FaissIndex` saves to and loads from.

Layout (version 3, all lengths little-endian u64)::

    descriptor index (FAISS serialisation) | hash index (FAISS serialisation) | header JSON
    | len(descriptors) len(hashes) len(header) | b"CSIDX3\\n" | SHA-256 of all before

The descriptor index comes first so that FAISS can read it straight from the file with
``IO_FLAG_MMAP_IFC``: its inverted lists are then views of the file's pages, which the
kernel keeps once in its page cache for every process that maps them (the crawl's match
processes each held their own ~380 MB copy at 10^4 works). FAISS reads an index from the
start of a file and stops at its end, so what follows it does no harm.

The checksum is checked before anything is parsed, reading the file in chunks; the
descriptor index is then mapped through ``/proc/self/fd`` of the very file descriptor
that was checked, so a cache replaced meanwhile (an atomic rename by another process) is
never mixed with the checked one. The workspace only ever replaces a cached index by
renaming a new file over it, never rewrites one in place: a mapped file cut short under a
running process would fault it (SIGBUS). An older cache deleted while a long-running
process still maps it keeps its disk space until that process drops the index. Version 2
files (magic first, the same blobs, one
SHA-256 trailer) are still read, into memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import struct
from pathlib import Path
from typing import Any, BinaryIO

import faiss
import numpy as np

from copyseal.errors import MatchError
from copyseal.files import publish_stream

__all__ = ["read_index_file", "write_index_file"]

log = logging.getLogger(__name__)

_MAGIC2 = b"CSIDX2\n"
_MAGIC3 = b"CSIDX3\n"
_LENGTHS = struct.Struct("<QQQ")
_TAIL = _LENGTHS.size + len(_MAGIC3) + 32
_CHUNK = 1 << 20


def write_index_file(path: Path, header: dict[str, Any], hashes: Any, descs: Any) -> None:
    """Write a version 3 file atomically and durably (an existing file is replaced)."""
    blobs = [
        faiss.serialize_index_binary(descs).tobytes(),
        faiss.serialize_index_binary(hashes).tobytes(),
        json.dumps(header, separators=(",", ":")).encode(),
    ]
    digest = hashlib.sha256()
    with publish_stream(path, overwrite=True) as f:
        for blob in (*blobs, _LENGTHS.pack(*map(len, blobs)), _MAGIC3):
            f.write(blob)
            digest.update(blob)
        f.write(digest.digest())


def read_index_file(path: Path) -> tuple[dict[str, Any], Any, Any, bool]:
    """The header, the hash index and the descriptor index of a saved file, and whether
    the descriptor index is mapped from the file (an inverted file, where the file system
    can map; read-only: FAISS aborts the process on an add or a removal, copy it first).

    Raises:
        MatchError: The file is missing, truncated, altered (checksum) or not an index.
    """
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(len(_MAGIC2))
            if head == _MAGIC2:
                f.seek(0)
                return (*_read_v2(path, f.read()), False)
            f.seek(max(0, size - _TAIL))
            tail = f.read(_TAIL)
            lengths, magic, trailer = tail[: _LENGTHS.size], tail[_LENGTHS.size : -32], tail[-32:]
            if size < _TAIL or magic != _MAGIC3:
                raise MatchError(
                    f"corrupt match index {path}: no trailer (truncated, or not a copyseal "
                    "match index)"
                )
            if _digest(f, size - 32) != trailer:
                raise MatchError(f"corrupt match index {path}: checksum mismatch")
            n_descs, n_hashes, n_header = _LENGTHS.unpack(lengths)
            if n_descs + n_hashes + n_header != size - _TAIL:
                raise MatchError(f"corrupt match index {path}: inconsistent lengths")
            f.seek(n_descs)
            hashes_blob, header_blob = f.read(n_hashes), f.read(n_header)
            try:
                header = json.loads(header_blob)
                if not isinstance(header, dict):
                    raise ValueError("header is not an object")
                hashes = faiss.deserialize_index_binary(np.frombuffer(hashes_blob, np.uint8))
                descs = None
                mapped = bool(header.get("ivf")) and _can_map(f)
                if mapped:
                    try:
                        descs = faiss.read_index_binary(
                            f"/proc/self/fd/{f.fileno()}", faiss.IO_FLAG_MMAP_IFC
                        )
                    except RuntimeError as e:  # procfs refused, say: read it instead
                        log.warning("cannot map match index %s (%s); reading it", path, e)
                        mapped = False
                if descs is None:
                    f.seek(0)
                    descs = faiss.deserialize_index_binary(np.frombuffer(f.read(n_descs), np.uint8))
            except (ValueError, TypeError, RuntimeError, RecursionError, MemoryError) as e:
                raise MatchError(f"corrupt match index {path}: {e}") from e
    except OSError as e:
        raise MatchError(f"cannot read match index {path}: {e}") from e
    return header, hashes, descs, mapped


def _digest(f: BinaryIO, end: int) -> bytes:
    """SHA-256 of the first ``end`` bytes of ``f``, read in chunks (an index of 10^4
    works is ~400 MB: never held twice)."""
    f.seek(0)
    h = hashlib.sha256()
    left = end
    while left:
        chunk = f.read(min(_CHUNK, left))
        if not chunk:
            break
        h.update(chunk)
        left -= len(chunk)
    return h.digest()


def _can_map(f: BinaryIO) -> bool:
    """Whether FAISS can open this very file again by its descriptor (Linux's procfs) and
    map it. FAISS 1.15 checks ``mmap``'s result against NULL, not ``MAP_FAILED``: a file
    system that cannot map (some FUSE, 9p or shared folders) would crash the process
    there, so the mapping is tried here first."""
    if not os.path.exists(f"/proc/self/fd/{f.fileno()}"):
        return False
    try:
        mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ).close()
    except (OSError, ValueError):
        return False
    return True


def _read_v2(path: Path, data: bytes) -> tuple[dict[str, Any], Any, Any]:
    view = memoryview(data)
    body, trailer = view[:-32], bytes(view[-32:])
    if len(data) < len(_MAGIC2) + 32 or hashlib.sha256(body).digest() != trailer:
        raise MatchError(f"corrupt match index {path}: checksum mismatch")
    try:
        off = len(_MAGIC2)
        blobs = []
        for _ in range(3):
            (n,) = struct.unpack_from("<Q", body, off)
            off += 8
            blob = body[off : off + n]
            if len(blob) != n:
                raise ValueError("truncated")
            blobs.append(blob)
            off += n
        if off != len(body):
            raise ValueError("trailing bytes")
        header = json.loads(bytes(blobs[0]))
        hashes = faiss.deserialize_index_binary(np.frombuffer(blobs[1], dtype=np.uint8))
        descs = faiss.deserialize_index_binary(np.frombuffer(blobs[2], dtype=np.uint8))
    except (ValueError, TypeError, RuntimeError, RecursionError, MemoryError, struct.error) as e:
        raise MatchError(f"corrupt match index {path}: {e}") from e
    if not isinstance(header, dict):
        raise MatchError(f"corrupt match index {path}: header is not an object")
    return header, hashes, descs
