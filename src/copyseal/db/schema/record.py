"""The infringer's record: re-visits of known uses and the takedown notices of a case.

A **visit** is one re-capture of a matched page (``copyseal revisit``, or a schedule with
``revisit_matches``): what was found (``result``), the new sealed bundle (also when the
picture is gone: the absence is evidence too), the similarity of the matched region with
the first capture, and the visit's ``continued-use`` ledger statement. A visit that failed
before its bundle was sealed keeps ``result`` null and ``error`` set; the next run tries
that match again.

A **notice** is a takedown notice written from a case's facts (``copyseal cases notice``);
its SHA-256 goes into the ledger (``notice-sent``) when it is marked sent.

Migration ``0013_record`` creates the same tables (a test compares them).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from copyseal.db.base import Base

__all__ = ["CaseNotice", "MatchVisit"]

# The type of ``crawl_matches.id`` (a foreign key must have the same type).
_MatchKey = BigInteger().with_variant(Integer(), "sqlite")


class MatchVisit(Base):
    """One re-visit of a matched page and what it found (:mod:`copyseal.revisit`).

    ``result`` is ``present``, ``changed``, ``moved``, ``removed``, ``page-gone`` or
    ``blocked`` (null: the visit failed before it was sealed, see ``error``; the row is
    written when the visit starts, with ``error`` "interrupted before the visit was
    sealed", and completed at its end, so a killed visit stays on record).
    ``visited_at`` is when the page's capture started (the bundle's ``captured_at``).
    ``found_page_url``/``found_image_url`` say where the work was seen on this visit
    (``moved``: the other page). ``match_id`` is the use's oldest match: several crawls
    finding one work on one page are visited once, under it. ``ledger_index`` is the
    visit's ``continued-use`` statement (the bundle has its own entry).
    """

    __tablename__ = "match_visits"
    __table_args__ = (Index("ix_match_visits_match_id_visited_at", "match_id", "visited_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    match_id: Mapped[int] = mapped_column(
        _MatchKey, ForeignKey("crawl_matches.id", ondelete="CASCADE")
    )
    page_url: Mapped[str] = mapped_column(Text)
    visited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    result: Mapped[str | None] = mapped_column(String(16))
    found_page_url: Mapped[str | None] = mapped_column(Text)
    found_image_url: Mapped[str | None] = mapped_column(Text)
    #: Similarity of the matched region with the first capture's (0..1), for
    #: ``present`` and ``changed``.
    similarity: Mapped[float | None] = mapped_column(Float)
    bundle_id: Mapped[str | None] = mapped_column(
        String(40), ForeignKey("evidence_bundles.bundle_id", ondelete="SET NULL")
    )
    ledger_index: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)


class CaseNotice(Base):
    """A takedown notice written for a case, and when and to whom it was sent.

    ``kind`` is ``dmca``, ``eu-dsa`` or ``generic``; ``sha256`` is the hash of the notice
    file as written. ``sent_to``/``sent_at``/``ledger_index`` are set by
    ``copyseal cases notice-sent`` (the ``notice-sent`` ledger statement).
    """

    __tablename__ = "case_notices"

    notice_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("review_cases.case_id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_to: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ledger_index: Mapped[int | None] = mapped_column(BigInteger)
