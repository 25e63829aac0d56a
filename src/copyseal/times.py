"""Times: every time copyseal stores or prints is an aware UTC ``datetime``.

SQLite hands back naive datetimes for ``DateTime(timezone=True)`` columns (SQLAlchemy's
documented behaviour: SQLite has no time zone type), and PostgreSQL hands back aware ones;
:func:`utc` makes both the same aware UTC value, so comparisons and JSON never depend on
the database.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["iso", "now", "utc", "utc_or_none"]


def now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC time: a naive value is taken to be UTC already (everything
    copyseal writes is UTC); an aware one in another zone is converted."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_or_none(value: datetime | None) -> datetime | None:
    """:func:`utc`, passing ``None`` through (nullable columns)."""
    return None if value is None else utc(value)


def iso(value: datetime | None) -> str | None:
    """RFC 3339 text of a time in UTC (``2026-12-05T08:23:50.123456+00:00``); None stays
    None. The offset is written ``+00:00`` as :meth:`datetime.isoformat` does."""
    return None if value is None else utc(value).isoformat()
