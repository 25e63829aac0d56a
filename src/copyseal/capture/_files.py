"""Writing a capture folder: hash while writing, publish by one rename.

Every file is hashed as its bytes go to disk (never re-read), and the whole folder is
built under a temporary name beside its destination and renamed into place only when the
capture succeeded, so a reader never sees a half-written capture. The staging folder and
the rename are :mod:`copyseal.files`' (``staging_dir``, ``publish_dir``, ``discard``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, ParamSpec, TypeVar

from copyseal.capture.result import Artefact
from copyseal.files import discard, publish_dir, staging_dir

__all__ = ["ArtefactWriter", "HashingFile", "discard", "in_thread", "publish", "staging_dir"]

P = ParamSpec("P")
R = TypeVar("R")


async def in_thread(func: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """``asyncio.to_thread`` whose caller, if cancelled, still waits for the thread to end.

    File work (hashing, gzip, zip, fsync) runs in a worker thread so that the event loop
    serves the other captures meanwhile. A thread cannot be stopped, so a cancelled
    capture waits for it: its clean-up (removing the staging folder) must never race with
    a thread still writing into that folder.
    """
    future = asyncio.ensure_future(asyncio.to_thread(func, *args, **kwargs))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise


class HashingFile:
    """A binary file opened for writing that hashes (SHA-256) and counts what it writes."""

    def __init__(self, path: Path) -> None:
        self._fh: BinaryIO = path.open("xb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        return self._fh.write(data)

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        if self._fh.closed:
            return
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
        finally:
            # Closed even when the flush fails (ENOSPC on a full disk): the descriptor must
            # not leak, and the staging folder it is in is then discarded whole.
            self._fh.close()

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def __enter__(self) -> HashingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ArtefactWriter:
    """Writes the files of one capture folder and remembers each one's hash."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.artefacts: list[Artefact] = []

    def write(self, rel: str, data: bytes, *, media_type: str, role: str) -> Artefact:
        """Write ``data`` to ``root/rel`` (which must not exist) and record it."""
        path = self._target(rel)
        with HashingFile(path) as fh:
            fh.write(data)
        return self.add(rel, sha256=fh.hexdigest(), size=fh.size, media_type=media_type, role=role)

    def open(self, rel: str) -> HashingFile:
        """A hashing file to stream into; call :meth:`add` with its digest when done."""
        return HashingFile(self._target(rel))

    def add(self, rel: str, *, sha256: str, size: int, media_type: str, role: str) -> Artefact:
        artefact = Artefact(path=rel, sha256=sha256, size=size, media_type=media_type, role=role)
        self.artefacts.append(artefact)
        return artefact

    def hash_existing(self, rel: str, *, media_type: str, role: str) -> Artefact:
        """Record a file another library wrote (read once, before the folder is published)."""
        digest = hashlib.sha256()
        size = 0
        with (self.root / rel).open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        return self.add(rel, sha256=digest.hexdigest(), size=size, media_type=media_type, role=role)

    def _target(self, rel: str) -> Path:
        path = self.root / rel
        if self.root.resolve() not in path.resolve().parents:
            raise ValueError(f"artefact path escapes the capture folder: {rel!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


#: Publishing the finished staging folder: every file and folder synced, then one rename
#: (never over an existing ``dest``), then the parent folder synced.
publish = publish_dir
