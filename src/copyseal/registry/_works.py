"""Registration: files in, ``works`` rows out; idempotent by the bytes' SHA-256."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from copyseal.db.models import Work
from copyseal.errors import CopysealError, RegistrationError
from copyseal.registry._probe import probe_image
from copyseal.workspace import Workspace

__all__ = [
    "RegistrationFailure",
    "WorkRecord",
    "iter_image_files",
    "list_works",
    "register_paths",
    "remove_work",
    "work_id_for",
]

log = logging.getLogger(__name__)

#: Suffixes picked up when a folder is registered (a file named explicitly is always tried).
IMAGE_SUFFIXES = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".png",
        ".webp",
        ".gif",
        ".tif",
        ".tiff",
        ".bmp",
        ".heic",
        ".heif",
        ".avif",
    }
)


def work_id_for(sha256_hex: str) -> str:
    """The work id of an original whose SHA-256 is ``sha256_hex`` (80 bits, prefixed)."""
    return "w" + sha256_hex[:20]


@dataclass(frozen=True, kw_only=True)
class WorkRecord:
    """A registered work as the CLI and library report it."""

    work_id: str
    sha256: str
    size: int
    width: int
    height: int
    format: str
    owner: str | None
    title: str | None
    licence: str | None
    source_path: str | None
    registered_at: datetime
    removed_at: datetime | None = None
    #: False when the bytes had been registered before (nothing new was stored).
    new: bool = False

    @classmethod
    def from_row(cls, row: Work, *, new: bool = False) -> WorkRecord:
        return cls(
            work_id=row.work_id,
            sha256=row.sha256,
            size=row.size,
            width=row.width,
            height=row.height,
            format=row.format,
            owner=row.owner,
            title=row.title,
            licence=row.licence,
            source_path=row.source_path,
            registered_at=_utc(row.registered_at),
            removed_at=_utc(row.removed_at) if row.removed_at else None,
            new=new,
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON-safe form used by ``register --json`` and ``works --json``."""
        return {
            "work_id": self.work_id,
            "sha256": self.sha256,
            "size": self.size,
            "width": self.width,
            "height": self.height,
            "format": self.format,
            "owner": self.owner,
            "title": self.title,
            "licence": self.licence,
            "source_path": self.source_path,
            "registered_at": self.registered_at.isoformat(),
            "removed_at": self.removed_at.isoformat() if self.removed_at else None,
            "new": self.new,
        }


@dataclass(frozen=True, kw_only=True)
class RegistrationFailure:
    """A file that could not be registered, and why (the batch goes on)."""

    path: str
    error: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "error": self.error}


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def iter_image_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Expand files and folders (recursively, sorted, hidden entries skipped)."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if child.is_file() and child.suffix.lower() in IMAGE_SUFFIXES:
                    yield child
        else:
            yield path


def _register_one(
    session: Session, path: Path, *, max_bytes: int, max_pixels: int, meta: dict[str, str | None]
) -> WorkRecord:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise RegistrationError(
                f"{size} bytes is over the limit of {max_bytes} (match.max_bytes)"
            )
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise RegistrationError("no such file") from e
    except IsADirectoryError as e:
        raise RegistrationError("is a folder") from e
    except OSError as e:
        raise RegistrationError(f"cannot read: {e.strerror}") from e
    digest = hashlib.sha256(data).hexdigest()
    work_id = work_id_for(digest)
    existing = session.get(Work, work_id)
    if existing is not None:
        if existing.removed_at is not None:
            existing.removed_at = None  # registering removed bytes again restores the work
            log.info("work restored", extra={"work_id": work_id, "path": str(path)})
        return WorkRecord.from_row(existing, new=False)
    facts = probe_image(data, max_pixels=max_pixels)
    row = Work(
        work_id=work_id,
        sha256=digest,
        size=len(data),
        width=facts.width,
        height=facts.height,
        format=facts.format,
        exif=facts.exif_json,
        owner=meta["owner"],
        title=meta["title"] if meta["title"] is not None else path.stem,
        licence=meta["licence"],
        source_path=str(path),
        registered_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    log.info("work registered", extra={"work_id": work_id, "sha256": digest, "path": str(path)})
    return WorkRecord.from_row(row, new=True)


def register_paths(
    ws: Workspace,
    paths: Sequence[Path],
    *,
    owner: str | None = None,
    title: str | None = None,
    licence: str | None = None,
) -> Iterator[WorkRecord | RegistrationFailure]:
    """Register every image under ``paths``; yield one result per file, in order.

    A file that cannot be registered yields a :class:`RegistrationFailure` and the batch
    goes on. Each success is committed on its own, so an interrupted batch keeps what it did.
    """
    meta = {"owner": owner, "title": title, "licence": licence}
    limits = ws.settings.match
    with Session(ws.engine) as session:
        for path in iter_image_files(paths):
            try:
                record = _register_one(
                    session,
                    path,
                    max_bytes=limits.max_bytes,
                    max_pixels=limits.max_pixels,
                    meta=meta,
                )
                session.commit()
            except CopysealError as e:
                session.rollback()
                log.warning("not registered", extra={"path": str(path), "reason": str(e)})
                yield RegistrationFailure(path=str(path), error=str(e))
                continue
            yield record


def list_works(ws: Workspace, *, include_removed: bool = False) -> list[WorkRecord]:
    """All registered works, oldest first."""
    query = select(Work).order_by(Work.registered_at, Work.work_id)
    if not include_removed:
        query = query.where(Work.removed_at.is_(None))
    with Session(ws.engine) as session:
        return [WorkRecord.from_row(row) for row in session.scalars(query)]


def remove_work(ws: Workspace, work_id: str) -> WorkRecord:
    """Withdraw a work from matching (the record and its history are kept)."""
    with Session(ws.engine) as session:
        row = session.get(Work, work_id)
        if row is None or row.removed_at is not None:
            raise RegistrationError(f"work {work_id}: no such registered work")
        row.removed_at = datetime.now(UTC)
        session.commit()
        log.info("work removed", extra={"work_id": work_id})
        return WorkRecord.from_row(row)
