"""The registry's tables: registered works and their fingerprints."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from copyseal.db.base import Base

__all__ = ["Work", "WorkFingerprint"]


class Work(Base):
    """A registered work: the original bytes' identity, facts and owner metadata.

    The ``work_id`` derives from the SHA-256 of the original bytes, so registering the
    same bytes again gives the same id. Removing a work sets ``removed_at`` (the row and
    its ledger statement stay: history is never rewritten).
    """

    __tablename__ = "works"

    work_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(16))
    #: EXIF tags as canonical JSON text ("{}" when none).
    exif: Mapped[str] = mapped_column(Text, default="{}")
    owner: Mapped[str | None] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(1024))
    licence: Mapped[str | None] = mapped_column(String(255))
    #: The path the work was registered from (informational).
    source_path: Mapped[str | None] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Index of the work's registration statement in the ledger (None until anchored).
    ledger_index: Mapped[int | None] = mapped_column(BigInteger)
    #: The original's rights metadata as canonical JSON text (``RightsMetadata.to_json()``
    #: of :mod:`copyseal.match.rights`); None for works registered before it was read.
    rights_metadata: Mapped[str | None] = mapped_column(Text)


class WorkFingerprint(Base):
    """The matcher's fingerprint of a work (serialised by ``copyseal.match``).

    ``scheme`` names the fingerprint format, so a future matcher can tell which rows it
    must recompute; ``digest`` is the SHA-256 of ``data`` (the ledger records it).
    """

    __tablename__ = "work_fingerprints"

    work_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("works.work_id", ondelete="CASCADE"), primary_key=True
    )
    scheme: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
