"""Publishing files atomically and durably: the one write path for evidence.

A reader (a verifier, the review app, a crash-recovery pass) must never see half a file,
and a file that was reported written must survive a power cut. POSIX gives both with
four steps, done here in one place: write a temporary file in the destination's folder
(same file system, so the rename is atomic), ``fsync`` it, ``rename`` it onto the final
name, and ``fsync`` the folder so the new directory entry itself is on disk (rename(2)
and fsync(2): the rename is durable only once the directory is synced).

Every evidence, export, index and tile write goes through :func:`publish_bytes`,
:func:`publish_stream` or :func:`publish_dir`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "discard",
    "fsync_dir",
    "publish_bytes",
    "publish_dir",
    "publish_stream",
    "staging_dir",
    "sync_tree",
]


def fsync_dir(folder: Path) -> None:
    """Flush ``folder``'s directory entries to disk (new, renamed or removed names)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_name(dest: Path) -> Path:
    return dest.parent / f".{dest.name}.partial-{secrets.token_hex(4)}"


def _finish(tmp: Path, dest: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, dest)
    else:
        # link(2) fails if the name exists, so a concurrent writer of the same name
        # cannot be overwritten between a check and the rename.
        os.link(tmp, dest)
        os.unlink(tmp)
    fsync_dir(dest.parent)


@contextmanager
def publish_stream(dest: Path, *, mode: int = 0o644, overwrite: bool = False) -> Iterator[BinaryIO]:
    """Write ``dest`` through a file object; it appears whole, synced, when the block ends.

    On an exception inside the block the temporary file is removed and ``dest`` is not
    touched.

    Args:
        dest: The final path; its folder is created if missing.
        mode: The file's permission bits (evidence is published read-only, ``0o444``).
        overwrite: Replace an existing ``dest`` (indexes, tiles, exports rebuilt from the
            same facts). Evidence is never overwritten: without it an existing ``dest``
            raises :class:`FileExistsError`.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not overwrite and dest.exists():
        raise FileExistsError(str(dest))
    tmp = _temp_name(dest)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        _finish(tmp, dest, overwrite=overwrite)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def publish_bytes(dest: Path, data: bytes, *, mode: int = 0o644, overwrite: bool = False) -> None:
    """Write ``data`` to ``dest`` atomically and durably (see :func:`publish_stream`)."""
    with publish_stream(dest, mode=mode, overwrite=overwrite) as out:
        out.write(data)


def staging_dir(dest: Path) -> Path:
    """A fresh hidden folder beside ``dest`` to build it in (same file system, so the
    final rename is atomic); hand it to :func:`publish_dir` when complete."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(dest)
    tmp.mkdir()
    return tmp


def sync_tree(folder: Path) -> None:
    """``fsync`` every regular file below ``folder`` and every folder, ``folder`` included
    (symbolic links are not followed): after it returns, the whole tree is on disk."""
    for here, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(here, name)
            if path.is_symlink():
                continue
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(here))


def publish_dir(
    tmp: Path, dest: Path, *, before_rename: Callable[[Path], None] | None = None
) -> None:
    """Rename the finished folder ``tmp`` to ``dest``, durably; never over an existing one.

    ``before_rename`` runs on ``tmp`` first (making the files read-only, for instance), so
    that what it changes is synced too; then every file inside is fsynced, then every
    folder, then the rename, then the parent folder.

    Raises:
        FileExistsError: ``dest`` exists (rename(2) would silently replace an empty folder).
    """
    if dest.exists():
        raise FileExistsError(str(dest))
    if before_rename is not None:
        before_rename(tmp)
    sync_tree(tmp)
    os.rename(tmp, dest)
    fsync_dir(dest.parent)


def discard(tmp: Path) -> None:
    """Remove an unfinished staging folder (nothing in it was published)."""
    shutil.rmtree(tmp, ignore_errors=True)
