"""Workspace files are for their owner only: the umask copyseal runs with, and the repair
of workspaces made before it.

The database holds password and session hashes and the addresses people logged in from,
the logs hold URLs and names, the keys sign evidence: none of it is for other accounts of
the machine. The ``copyseal`` command sets the process umask to 077 (:func:`restrict_umask`)
so every file and folder it creates is readable by its owner only (what it hands out, e.g.
an exported case package, is the user's to share: they can copy it or change its mode).
Files whose mode is set explicitly (evidence made read-only, 0444) keep that mode, inside
folders others cannot enter. :func:`make_private` takes group and other permissions away
from what older copyseal versions created with the usual umask 022 (``copyseal init`` and
``copyseal db upgrade`` run it and say what they changed). SQLite creates its ``-wal`` and
``-shm`` files with the database file's mode (``findCreateFileMode`` in SQLite's
``os_unix.c``), so a private database stays private.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # imported lazily: the CLI sets the umask before anything is loaded
    from copyseal.config import Settings

__all__ = ["UMASK", "make_private", "restrict_umask", "workspace_paths"]

#: Nothing for group or others.
UMASK: Final = 0o077
_SQLITE_SUFFIXES: Final = ("", "-wal", "-shm", "-journal")


def restrict_umask() -> int:
    """Set the process umask to :data:`UMASK`; returns the previous one."""
    return os.umask(UMASK)


def _sqlite_file(url: str) -> Path | None:
    import sqlalchemy as sa

    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def workspace_paths(settings: Settings) -> list[Path]:
    """What :func:`make_private` covers: the SQLite database and its side files, the
    keys folder and its files, the logs folder and its files, the evidence store's folder
    (not its contents: nobody else can enter it)."""
    paths: list[Path] = []
    database = _sqlite_file(settings.database.url)
    if database is not None:
        paths += [database.with_name(database.name + s) for s in _SQLITE_SUFFIXES]
    keys = settings.workspace.signing_key.parent
    paths += [keys, *sorted(keys.glob("*"))] if keys.is_dir() else []
    if settings.logging.file is not None:
        logs = settings.logging.file.parent
        paths += [logs, *sorted(logs.glob(settings.logging.file.name + "*"))]
    paths.append(settings.workspace.evidence_dir)
    # The workspace's own folder may be a home or a project folder: leave its mode be.
    return [p for p in paths if p != settings.base_dir]


def make_private(settings: Settings) -> list[Path]:
    """Take group and other permissions from the workspace's files and folders
    (:func:`workspace_paths`; symbolic links and missing paths are left alone).

    Returns:
        The paths whose mode changed.
    """
    changed = []
    for path in workspace_paths(settings):
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(mode) or not stat.S_IMODE(mode) & UMASK:
            continue
        path.chmod(stat.S_IMODE(mode) & ~UMASK)
        changed.append(path)
    return changed
