"""Small helpers shared by the review modules."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

__all__ = ["domain_of", "iso", "now", "utc"]


def now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


def utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything copyseal writes is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def iso(value: datetime | None) -> str | None:
    """RFC 3339 text of a stored time (None stays None)."""
    return None if value is None else utc(value).isoformat()


def domain_of(url: str) -> str:
    """The host of ``url`` (lower case, without port), the unit a case is usually about."""
    return (urlsplit(url).hostname or "").lower()
