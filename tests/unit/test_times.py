"""``copyseal.times``: one meaning of "a stored time" on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from copyseal.times import iso, now, utc, utc_or_none


def test_naive_is_taken_as_utc_and_aware_is_converted() -> None:
    naive = datetime(2026, 12, 5, 8, 0)
    assert utc(naive) == datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    cet = datetime(2026, 12, 5, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    assert utc(cet).tzinfo is UTC and utc(cet) == datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    assert utc_or_none(None) is None


def test_iso_and_now() -> None:
    assert iso(datetime(2026, 12, 5, 8, 0)) == "2026-12-05T08:00:00+00:00"
    assert iso(None) is None
    assert now().tzinfo is UTC
