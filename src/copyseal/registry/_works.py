"""Registration: files in, ``works`` rows out; idempotent by the bytes' SHA-256."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from copyseal import times
from copyseal.db.models import Work, WorkFingerprint
from copyseal.errors import CopysealError, DecodeError, RegistrationError
from copyseal.match import MatchConfig, decode, fingerprint
from copyseal.match.fingerprint import FORMAT_VERSION
from copyseal.match.rights import RightsMetadata, read_rights
from copyseal.storage import READ_ONLY, Area
from copyseal.workspace import Workspace

__all__ = [
    "RegistrationFailure",
    "WorkRecord",
    "anchor_pending",
    "iter_image_files",
    "list_works",
    "original_path",
    "register_paths",
    "remove_work",
    "stored_rights",
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
    #: Index of the registration statement in the ledger (None until anchored).
    ledger_index: int | None = None
    #: False when the bytes had been registered before (nothing new was stored).
    new: bool = False
    #: The original's rights metadata as read at registration (``RightsMetadata.to_json()``;
    #: None for works registered before it was read).
    rights_metadata: dict[str, Any] | None = None

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
            registered_at=times.utc(row.registered_at),
            removed_at=times.utc_or_none(row.removed_at),
            ledger_index=row.ledger_index,
            new=new,
            rights_metadata=json.loads(row.rights_metadata) if row.rights_metadata else None,
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
            "ledger_index": self.ledger_index,
            "new": self.new,
            "rights_metadata": self.rights_metadata,
        }


@dataclass(frozen=True, kw_only=True)
class RegistrationFailure:
    """A file that could not be registered, and why (the batch goes on)."""

    path: str
    error: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "error": self.error}


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


#: The fingerprint scheme stored with each work (format and version of copyseal.match).
SCHEME = f"copyseal-fp/{FORMAT_VERSION}"
#: Registration statements are appended to the ledger in batches of this many works.
ANCHOR_BATCH = 256


def originals_dir(ws: Workspace) -> Path:
    """Where the workspace keeps a copy of each work's original bytes (by SHA-256)."""
    return ws.store.folder(Area.WORKS)


def original_path(ws: Workspace, sha256: str) -> Path:
    """The kept copy of the original whose SHA-256 is ``sha256``."""
    return ws.store.path(Area.WORKS, sha256)


def _keep_original(ws: Workspace, digest: str, data: bytes) -> None:
    """Keep the original bytes, content-addressed and read-only (never rewritten)."""
    path = original_path(ws, digest)
    if path.exists():
        return
    try:
        ws.store.publish_bytes(Area.WORKS, digest, data, mode=READ_ONLY)
    except FileExistsError:
        pass  # kept meanwhile by another process: the same bytes, by their address
    except OSError as e:
        raise RegistrationError(
            f"cannot keep the original in {path.parent}: {e.strerror or e}"
        ) from e


def _read(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise RegistrationError(
                f"{size} bytes is over the limit of {max_bytes} (match.max_bytes)"
            )
        return path.read_bytes()
    except FileNotFoundError as e:
        raise RegistrationError("no such file") from e
    except IsADirectoryError as e:
        raise RegistrationError("is a folder") from e
    except OSError as e:
        raise RegistrationError(f"cannot read: {e.strerror}") from e


def _register_one(
    session: Session, ws: Workspace, path: Path, config: MatchConfig, meta: dict[str, str | None]
) -> WorkRecord:
    data = _read(path, ws.settings.match.max_bytes)
    digest = hashlib.sha256(data).hexdigest()
    work_id = work_id_for(digest)
    existing = session.get(Work, work_id)
    if existing is not None:
        if existing.removed_at is not None:
            existing.removed_at = None  # registering removed bytes again restores the work
            log.info("work restored", extra={"work_id": work_id, "path": str(path)})
        return WorkRecord.from_row(existing, new=False)
    try:
        image = decode(
            data, max_pixels=config.max_pixels, max_frames=config.max_frames, name=str(path)
        )
    except DecodeError as e:
        # The message starts with the path, which the failure record names already.
        raise RegistrationError(str(e).removeprefix(f"{path}: ")) from e
    fp = fingerprint(image, config=config)
    rights = read_rights(data)
    _keep_original(ws, digest, data)
    now = times.now()
    row = Work(
        work_id=work_id,
        sha256=digest,
        size=len(data),
        width=image.width,
        height=image.height,
        format=image.format,
        exif=json.dumps(
            image.exif, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        ),
        owner=meta["owner"],
        title=meta["title"] if meta["title"] is not None else path.stem,
        licence=meta["licence"],
        source_path=str(path),
        registered_at=now,
        rights_metadata=_rights_json(rights),
    )
    session.add(row)
    fp_bytes = fp.to_bytes()
    session.add(
        WorkFingerprint(
            work_id=work_id, scheme=SCHEME, data=fp_bytes, digest=fp.digest(), created_at=now
        )
    )
    session.flush()
    log.info("work registered", extra={"work_id": work_id, "sha256": digest, "path": str(path)})
    return WorkRecord.from_row(row, new=True)


def _rights_json(rights: RightsMetadata) -> str:
    return json.dumps(rights.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _rights_digest(text: str | None) -> str | None:
    """The digest a registration statement commits to (None: not read at registration)."""
    return None if text is None else RightsMetadata.from_json(json.loads(text)).digest()


def stored_rights(engine: Engine) -> dict[str, RightsMetadata]:
    """Each registered work's rights metadata as read at registration, by work id (works
    registered before it was read are left out)."""
    query = select(Work.work_id, Work.rights_metadata).where(Work.rights_metadata.is_not(None))
    with engine.connect() as conn:
        return {
            work_id: RightsMetadata.from_json(json.loads(text))
            for work_id, text in conn.execute(query)
            if text is not None
        }


def anchor_pending(ws: Workspace) -> int:
    """Append the registration statement of every work not yet in the ledger.

    Registration commits each work first and anchors in batches, so a crash in between
    leaves works without a ``ledger_index``; the next call anchors them. Returns how many
    works were anchored.
    """
    from copyseal.ledger import leaf_hash
    from copyseal.ledger.statements import WORK_REGISTRATION, work_registration

    ledger = ws.ledger()
    anchored = 0
    with Session(ws.engine) as session:
        while True:
            rows = session.execute(
                select(Work, WorkFingerprint.digest)
                .join(WorkFingerprint, WorkFingerprint.work_id == Work.work_id)
                .where(Work.ledger_index.is_(None))
                .order_by(Work.registered_at, Work.work_id)
                .limit(ANCHOR_BATCH)
            ).all()
            if not rows:
                return anchored
            statements = [
                work_registration(
                    work_id=work.work_id,
                    owner=work.owner or "",
                    title=work.title or "",
                    original_sha256=work.sha256,
                    fingerprints_digest=fp_digest,
                    time=times.utc(work.registered_at),
                    rights_sha256=_rights_digest(work.rights_metadata),
                )
                for work, fp_digest in rows
            ]
            # A statement is deterministic: if a crash came after the append and before
            # this commit (or another process anchored it), it is in the log already.
            found = [ledger.find(leaf_hash(s)) for s in statements]
            missing = [s for s, index in zip(statements, found, strict=True) if index is None]
            appended = iter(ledger.append([(WORK_REGISTRATION, s) for s in missing]))
            for (work, _), index in zip(rows, found, strict=True):
                work.ledger_index = index if index is not None else next(appended)
            session.commit()
            anchored += len(rows)


def register_paths(
    ws: Workspace,
    paths: Sequence[Path],
    *,
    owner: str | None = None,
    title: str | None = None,
    licence: str | None = None,
) -> Iterator[WorkRecord | RegistrationFailure]:
    """Register every image under ``paths``; yield one result per file, in order.

    Each work's original bytes are kept in the workspace, its fingerprint stored, and its
    registration statement (owner, title, SHA-256 of the original, digest of the
    fingerprint) appended to the ledger. A file that cannot be registered yields a
    :class:`RegistrationFailure` and the batch goes on. Each success is committed on its
    own, so an interrupted batch keeps what it did.
    """
    from copyseal.registry._matcher import match_config

    meta = {"owner": owner, "title": title, "licence": licence}
    config = match_config(ws.settings)
    # Results wait for their batch to be anchored, so each record carries its ledger index.
    batch: list[WorkRecord | RegistrationFailure] = []

    def flush() -> Iterator[WorkRecord | RegistrationFailure]:
        anchor_pending(ws)
        with Session(ws.engine) as fresh:
            for item in batch:
                if isinstance(item, WorkRecord) and (row := fresh.get(Work, item.work_id)):
                    yield WorkRecord.from_row(row, new=item.new)
                else:
                    yield item
        batch.clear()

    with Session(ws.engine) as session:
        for path in iter_image_files(paths):
            try:
                batch.append(_register_one(session, ws, path, config, meta))
                session.commit()
            except CopysealError as e:
                session.rollback()
                log.warning("not registered", extra={"path": str(path), "reason": str(e)})
                batch.append(RegistrationFailure(path=str(path), error=str(e)))
            if len(batch) >= ANCHOR_BATCH:
                yield from flush()
    yield from flush()


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
        row.removed_at = times.now()
        session.commit()
        log.info("work removed", extra={"work_id": work_id})
        return WorkRecord.from_row(row)
