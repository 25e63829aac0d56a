"""The evidence store's protocol: named areas, safe names, atomic publishing.

An evidence store holds everything a workspace keeps besides its database: sealed bundles,
the originals of registered works, exported case packages and their receipts, the match
index cache, and the staging folders of captures in progress. Code never builds a path
under the store by hand; it asks the store for an :class:`Area`'s folder, for the path of
a name in it (refusing names that would escape it), or to publish a finished file or
folder into it, which is atomic and durable and never overwrites evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol, Self, runtime_checkable

from copyseal.errors import EvidenceStoreError

__all__ = ["READ_ONLY", "Area", "EvidenceStore", "check_name", "is_safe_name", "scheme_of"]

#: Permission bits of published evidence: sealed files are never rewritten.
READ_ONLY = 0o444

# A URL scheme (RFC 3986 section 3.1) of two characters or more, so that a Windows drive
# letter ("C:\\evidence") is read as a path, not as a URL.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


class Area(StrEnum):
    """The named parts of a store; the value is the area's folder in the local layout."""

    #: Sealed evidence bundles, one folder per bundle id (``bundles/<bundle_id>/``).
    BUNDLES = "bundles"
    #: The kept originals of registered works, by SHA-256 (``works/<sha256>``).
    WORKS = "works"
    #: Exported case packages (``exports/<case>-<hash>.zip``).
    EXPORTS = "exports"
    #: The ``export`` statements and receipts kept per export (``export-N.json``, ...).
    EXPORT_RECEIPTS = "exports/receipts"
    #: The match index cache (rebuilt from the database when missing).
    INDEX = "index"
    #: Capture folders while a page is being sealed (removed after sealing).
    CAPTURES = ".captures"
    #: The demo's works and site (``make demo``).
    DEMO = "demo"
    #: Anchors' own evidence files (RFC 3161 tokens: ``anchors/rfc3161/<name>/<size>.tsr``).
    ANCHORS = "anchors"


def scheme_of(location: str | Path) -> str:
    """The URL scheme of a store location, lower case; ``""`` for a plain path."""
    if isinstance(location, Path):
        return ""
    found = _SCHEME.match(location)
    return found.group(1).lower() if found else ""


def check_name(name: str) -> PurePosixPath:
    """``name`` as a relative path inside an area, or :class:`EvidenceStoreError`.

    Names are relative POSIX paths without empty, ``.`` or ``..`` parts; a part starting
    with ``.`` is refused too, since hidden names are the store's unfinished work
    (staging folders, kept failures).
    """
    if not is_safe_name(name):
        raise EvidenceStoreError(f"{name!r} is not a safe name in the evidence store")
    return PurePosixPath(name)


def is_safe_name(name: str) -> bool:
    """Whether :func:`check_name` accepts ``name``."""
    return bool(name) and not any(
        not part or part.startswith(".") or "\x00" in part or "\\" in part
        for part in name.split("/")
    )


@runtime_checkable
class EvidenceStore(Protocol):
    """Where a workspace keeps its evidence (see the module docstring).

    Implementations are listed in :data:`copyseal.storage.STORES` under the URL schemes
    they serve, and built with :meth:`from_location` from ``workspace.evidence_dir``.
    Every implementation passes the conformance kit in ``tests/unit/storage/``.
    """

    @classmethod
    def from_location(cls, location: str | Path) -> Self:
        """The store at ``location`` (a path or a URL of a scheme this class serves).

        Raises:
            EvidenceStoreError: ``location`` is not one this class can open.
        """
        ...

    @property
    def url(self) -> str:
        """The store's location as a URL (``file:///srv/evidence``)."""
        ...

    def describe(self) -> str:
        """A one-line description for logs and status output."""
        ...

    def create(self) -> None:
        """Make the store ready for use (``copyseal init``); harmless if it exists."""
        ...

    def folder(self, area: Area) -> Path:
        """The local folder of ``area`` (not created; readers may find it missing)."""
        ...

    def path(self, area: Area, name: str) -> Path:
        """The path of ``name`` in ``area`` (need not exist).

        Raises:
            EvidenceStoreError: ``name`` is unsafe (see :func:`check_name`) or resolves
                outside the area (through a symbolic link, say).
        """
        ...

    def locate(self, stored: str | Path) -> Path:
        """The file or folder a stored path names (a database row's, an export's).

        A relative path is taken from the store's root. Either way the path must lie in
        one of the store's areas (``bundles/``, ``works/``, …), as written and with
        symbolic links followed: a database row is data that anyone with write access to
        the database can change, so it never makes copyseal read or serve another file.
        A store that moves to another path needs its absolute rows rewritten (or the old
        path mounted). That the folder is the right one is still for the bundle's own
        files (manifest, signature, receipt) and the rows shown with it to prove
        (:mod:`copyseal.review.shown`).

        Raises:
            EvidenceStoreError: the path is outside the store's areas.
        """
        ...

    def names(self, area: Area) -> list[str]:
        """The published names directly in ``area``, sorted (never unfinished ones)."""
        ...

    def publish_bytes(
        self, area: Area, name: str, data: bytes, *, mode: int = READ_ONLY, overwrite: bool = False
    ) -> Path:
        """Publish ``data`` as ``name`` in ``area``, whole and synced, and return its path.

        Raises:
            FileExistsError: ``name`` exists and ``overwrite`` is false (evidence is never
                overwritten, whichever machine published it).
        """
        ...

    def publish_stream(
        self, area: Area, name: str, *, mode: int = READ_ONLY, overwrite: bool = False
    ) -> AbstractContextManager[BinaryIO]:
        """A file to write ``name`` through; it appears whole, synced, when the block ends
        (nothing appears if the block raises). Raises as :meth:`publish_bytes`."""
        ...

    def staging(self, area: Area, name: str) -> Path:
        """A fresh, empty local folder to build the folder ``name`` of ``area`` in."""
        ...

    def publish_dir(
        self,
        staging: Path,
        area: Area,
        name: str,
        *,
        before_rename: Callable[[Path], None] | None = None,
    ) -> Path:
        """Publish the finished ``staging`` folder as ``name`` in ``area``, durably.

        ``before_rename`` runs on the staging folder once its files are synced (making
        them read-only, for instance).

        Raises:
            FileExistsError: ``name`` exists already.
            EvidenceStoreError: ``staging`` is not a staging folder for ``name``.
        """
        ...

    def discard(self, staging: Path) -> None:
        """Remove an unfinished staging folder (nothing in it was published)."""
        ...
