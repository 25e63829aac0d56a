"""The evidence store as a folder: the local file tree, or a shared file system path.

The layout is the area names under the root (``bundles/``, ``works/``, ``exports/``,
``exports/receipts/``, ``index/``, ``.captures/``, ``demo/``). Several machines can share
one store by mounting the same folder (NFS, CephFS, ...) at the same path, since paths
kept in the database are absolute: every write goes through :mod:`copyseal.files`, whose
temporary names carry a random token and whose publishing links the finished file into
place (link(2) refuses an existing name), so two machines never clobber each other's
files and a reader on any machine sees a file whole or not at all.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from copyseal import files
from copyseal.errors import EvidenceStoreError
from copyseal.storage.base import READ_ONLY, Area, check_name, is_safe_name, scheme_of

__all__ = ["LocalEvidenceStore"]

#: The top folders of the areas (``exports/receipts`` is inside ``exports``).
_AREA_FOLDERS = frozenset(a.value.split("/")[0] for a in Area)


def _path_of(location: str | Path) -> Path:
    """The folder a plain path or a ``file:`` URL (RFC 8089) names."""
    scheme = scheme_of(location)
    if scheme == "":
        return Path(location).expanduser()
    if scheme != "file":
        raise EvidenceStoreError(f"{location}: not a path or a file: URL")
    parts = urlsplit(str(location))
    if parts.netloc not in ("", "localhost"):
        raise EvidenceStoreError(
            f"{location}: a file URL on another host; mount it and give its local path"
        )
    if parts.query or parts.fragment or not parts.path.startswith("/"):
        raise EvidenceStoreError(f"{location}: a file URL names one absolute path (file:///...)")
    return Path(unquote(parts.path))


@dataclass(frozen=True, kw_only=True)
class LocalEvidenceStore:
    """An evidence store in the folder ``root`` (see the module docstring)."""

    root: Path

    @classmethod
    def from_location(cls, location: str | Path) -> LocalEvidenceStore:
        """The store in the folder a path or a ``file:`` URL names."""
        return cls(root=_path_of(location))

    @property
    def url(self) -> str:
        return self.root.absolute().as_uri()

    def describe(self) -> str:
        return f"evidence store: local folder {self.root}"

    def create(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def folder(self, area: Area) -> Path:
        return self.root / Area(area).value

    def path(self, area: Area, name: str) -> Path:
        folder = self.folder(area)
        path = folder / check_name(name)
        if not path.resolve().is_relative_to(folder.resolve()):
            raise EvidenceStoreError(f"{name!r} resolves outside the evidence store's {area}")
        return path

    def locate(self, stored: str | Path) -> Path:
        path = Path(stored)
        if not path.is_absolute():
            path = self.root / path
        # A row is data, not a capability: whatever it holds, only the store's own areas
        # are read (checked as written, and again with symbolic links followed).
        root = self.root.absolute()
        lexical = Path(os.path.normpath(path.absolute()))
        inside = lexical.is_relative_to(root) and lexical != root
        if not inside and ".." not in Path(stored).parts:
            # A row written where the store was before it moved: the same area and name
            # here (``/old/evidence/bundles/B`` is ``bundles/B`` of this store).
            parts = lexical.parts
            at = max((i for i, p in enumerate(parts) if p in _AREA_FOLDERS), default=None)
            if at is not None:
                path = lexical = root.joinpath(*parts[at:])
                inside = True
        if (
            not inside
            or lexical.relative_to(root).parts[0] not in _AREA_FOLDERS
            or not path.resolve().is_relative_to(self.root.resolve())
        ):
            raise EvidenceStoreError(f"{stored}: outside the evidence store's areas ({self.root})")
        return path

    def names(self, area: Area) -> list[str]:
        folder = self.folder(area)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if is_safe_name(p.name))

    def publish_bytes(
        self, area: Area, name: str, data: bytes, *, mode: int = READ_ONLY, overwrite: bool = False
    ) -> Path:
        path = self.path(area, name)
        files.publish_bytes(path, data, mode=mode, overwrite=overwrite)
        return path

    @contextmanager
    def publish_stream(
        self, area: Area, name: str, *, mode: int = READ_ONLY, overwrite: bool = False
    ) -> Iterator[BinaryIO]:
        with files.publish_stream(self.path(area, name), mode=mode, overwrite=overwrite) as out:
            yield out

    def staging(self, area: Area, name: str) -> Path:
        return files.staging_dir(self.path(area, name))

    def publish_dir(
        self,
        staging: Path,
        area: Area,
        name: str,
        *,
        before_rename: Callable[[Path], None] | None = None,
    ) -> Path:
        dest = self.path(area, name)
        if staging.parent != dest.parent or not staging.name.startswith(f".{dest.name}."):
            raise EvidenceStoreError(f"{staging}: not a staging folder of {area}/{name}")
        try:
            files.publish_dir(staging, dest, before_rename=before_rename)
        except OSError as e:
            # Another machine published ``dest`` between the check and the rename: rename(2)
            # refuses a non-empty folder with ENOTEMPTY (or EEXIST).
            if e.errno == errno.ENOTEMPTY:
                raise FileExistsError(errno.EEXIST, "published meanwhile", str(dest)) from e
            raise
        return dest

    def discard(self, staging: Path) -> None:
        files.discard(staging)
