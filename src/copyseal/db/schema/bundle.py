"""Tables of sealed evidence bundles and of captures that failed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from copyseal.db.base import Base

__all__ = ["CaptureFailure", "EvidenceBundle"]


class EvidenceBundle(Base):
    """A sealed bundle: where it is, what it shows, and its ledger entry."""

    __tablename__ = "evidence_bundles"

    bundle_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    page_url: Mapped[str] = mapped_column(Text)
    job_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("crawl_jobs.job_id", ondelete="SET NULL"), index=True
    )
    path: Mapped[str] = mapped_column(Text)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    leaf_hash: Mapped[str] = mapped_column(String(64))
    ledger_index: Mapped[int] = mapped_column(BigInteger)
    captured_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CaptureFailure(Base):
    """A page that could not be captured or sealed, and why (its matches stay recorded)."""

    __tablename__ = "capture_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    page_url: Mapped[str] = mapped_column(Text)
    job_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("crawl_jobs.job_id", ondelete="SET NULL"), index=True
    )
    error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
