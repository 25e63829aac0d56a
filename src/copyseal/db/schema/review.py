"""The review stage's tables: accounts, sessions, login attempts, decisions, cases, exports.

Migrations ``0007_review`` and ``0015_review_indexes`` create the same tables (a test
compares them).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from copyseal.db.base import Base
from copyseal.db.schema.crawl import CrawlMatch

__all__ = [
    "Case",
    "CaseMatch",
    "Decision",
    "Export",
    "LoginAttempt",
    "ReviewStatus",
    "User",
    "WebSession",
]

# The type of ``crawl_matches.id`` (a foreign key must have the same type).
_MatchKey = BigInteger().with_variant(Integer(), "sqlite")


class User(Base):
    """A person who uses the review app: a name, a role and an Argon2id password hash."""

    __tablename__ = "review_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    #: Argon2id in the modular crypt format (``$argon2id$v=19$m=...``).
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: Set when the account is disabled (it cannot log in; its history stays).
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A logged-in session; only the SHA-256 of its token is stored."""

    __tablename__ = "review_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("review_users.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LoginAttempt(Base):
    """One attempt to log in (for throttling guessers by name and by address)."""

    __tablename__ = "review_login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    remote: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    #: Refused by the login delay before the password was checked (kept for the audit
    #: trail; such attempts do not count as failures). Added by ``0015_review_indexes``.
    throttled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Decision(Base):
    """A reviewer's decision on a match; the newest one is the match's review status.

    ``decision`` is ``confirmed``, ``rejected`` or ``needs-more-info``; a rejection has a
    ``reason`` (``false-match``, ``licensed-use``, ``own-use`` or ``other``).
    ``ledger_index`` is the decision's ``review-decision`` statement in the ledger.
    """

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    match_id: Mapped[int] = mapped_column(
        _MatchKey, ForeignKey("crawl_matches.id", ondelete="CASCADE"), index=True
    )
    decision: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(String(24))
    comment: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("review_users.id", ondelete="SET NULL")
    )
    reviewer: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ledger_index: Mapped[int] = mapped_column(BigInteger)


class ReviewStatus(Base):
    """A decided match's review status: its newest decision (highest id).

    Derived from ``review_decisions`` and kept by a database trigger on it (migration
    ``0015_review_indexes``), so every writer, whichever code path or tool inserts the
    decision, keeps it right, and concurrent decisions on one match leave the newest
    (the upsert only replaces a lower ``decision_id``). The review queue filters, counts
    and sorts by it with one index probe per match instead of finding each match's newest
    decision among all of them. A match without a row here is ``new``.
    """

    __tablename__ = "review_status"

    match_id: Mapped[int] = mapped_column(
        _MatchKey, ForeignKey("crawl_matches.id", ondelete="CASCADE"), primary_key=True
    )
    decision_id: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(24), index=True)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# The review queue's orders (copyseal.review._sql.ordering), so a page of the queue is
# read from an index instead of sorting every match (measured: benchmarks/review_load.py).
Index("ix_crawl_matches_found_at", CrawlMatch.found_at, CrawlMatch.id)
Index("ix_crawl_matches_score", CrawlMatch.score, CrawlMatch.found_at, CrawlMatch.id)


class Case(Base):
    """Confirmed matches grouped against one infringer (usually one domain)."""

    __tablename__ = "review_cases"

    case_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    domain: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CaseMatch(Base):
    """A match that belongs to a case."""

    __tablename__ = "review_case_matches"

    case_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("review_cases.case_id", ondelete="CASCADE"), primary_key=True
    )
    match_id: Mapped[int] = mapped_column(
        _MatchKey, ForeignKey("crawl_matches.id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Export(Base):
    """A case package that was exported, with its ``export`` ledger statement."""

    __tablename__ = "review_exports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("review_cases.case_id", ondelete="CASCADE"), index=True
    )
    file_name: Mapped[str] = mapped_column(Text)
    package_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    recipient: Mapped[str] = mapped_column(Text)
    exported_by: Mapped[str] = mapped_column(String(64))
    exported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ledger_index: Mapped[int] = mapped_column(BigInteger)
