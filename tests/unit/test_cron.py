from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest

from copyseal._cron import CronError, parse_cron


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type,misc]


@pytest.mark.parametrize(
    ("text", "field", "values"),
    [
        ("*/15 * * * *", "minutes", {0, 15, 30, 45}),
        ("5,10-12 * * * *", "minutes", {5, 10, 11, 12}),
        ("0 8-18/4 * * *", "hours", {8, 12, 16}),
        ("0 22/1 * * *", "hours", {22, 23}),
        ("0 0 * JAN-mar,dec *", "months", {1, 2, 3, 12}),
        ("0 0 * * mon-fri", "weekdays", {1, 2, 3, 4, 5}),
        ("0 0 * * 7", "weekdays", {0}),
        ("0 0 * * 5-7", "weekdays", {0, 5, 6}),
    ],
)
def test_fields_parse(text: str, field: str, values: set[int]) -> None:
    assert getattr(parse_cron(text), field) == frozenset(values)


def test_macros_expand() -> None:
    daily = parse_cron("@daily")
    assert (daily.minutes, daily.hours) == (frozenset({0}), frozenset({0}))
    assert parse_cron("@hourly").next_after(utc(2026, 1, 1, 10, 30)) == utc(2026, 1, 1, 11, 0)
    assert parse_cron("@weekly").weekdays == frozenset({0})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("* * * *", "expected 5 fields"),
        ("60 * * * *", "minute field: '60' is outside 0-59"),
        ("0 24 * * *", "hour field"),
        ("0 0 0 * *", "day-of-month field: '0' is outside 1-31"),
        ("0 0 * 13 *", "month field"),
        ("0 0 * * 8", "day-of-week field"),
        ("*/0 * * * *", "bad step '0'"),
        ("0 0 * * fri-mon", "runs backwards"),
        ("x * * * *", "'x' is not a number"),
        ("1,,2 * * * *", "empty list item"),
        ("0 0 30 2 *", "never runs"),
        ("0 0 31 4,6,9,11 *", "never runs"),
    ],
)
def test_bad_expressions_name_the_field(text: str, message: str) -> None:
    with pytest.raises(CronError, match=message):
        parse_cron(text)


def test_month_ends_skip_months_without_the_day() -> None:
    expr = parse_cron("0 0 31 * *")
    assert expr.next_after(utc(2026, 4, 15)) == utc(2026, 5, 31)
    assert expr.next_after(utc(2026, 5, 31)) == utc(2026, 7, 31)
    assert expr.latest_at(utc(2026, 7, 30, 23, 59)) == utc(2026, 5, 31)


def test_leap_day_waits_for_a_leap_year_and_skips_2100() -> None:
    expr = parse_cron("0 12 29 2 *")
    assert expr.next_after(utc(2026, 3, 1)) == utc(2028, 2, 29, 12)
    assert expr.next_after(utc(2096, 3, 1)) == utc(2104, 2, 29, 12)  # 2100 is no leap year
    assert expr.latest_at(utc(2027, 1, 1)) == utc(2024, 2, 29, 12)


def test_day_of_month_or_weekday_when_both_are_restricted() -> None:
    # Vixie cron: "13th, or Friday". 2026-02-01 is a Sunday; Friday the 6th comes first.
    expr = parse_cron("0 0 13 * fri")
    assert expr.next_after(utc(2026, 2, 1)) == utc(2026, 2, 6)
    assert expr.next_after(utc(2026, 2, 6)) == utc(2026, 2, 13)
    assert expr.next_after(utc(2026, 3, 6)) == utc(2026, 3, 13)  # a Friday 13th, once
    assert expr.next_after(utc(2026, 3, 13)) == utc(2026, 3, 20)
    # A '*' step leaves the day unrestricted: AND, i.e. odd days that are Fridays.
    odd_fridays = parse_cron("0 0 */2 * fri")
    assert odd_fridays.next_after(utc(2026, 2, 1)) == utc(2026, 2, 13)


def test_next_after_is_strict_and_rounds_to_the_minute() -> None:
    expr = parse_cron("30 2 * * *")
    assert expr.next_after(utc(2026, 1, 1, 2, 30)) == utc(2026, 1, 2, 2, 30)
    assert expr.next_after(utc(2026, 1, 1, 2, 29, 59, 999)) == utc(2026, 1, 1, 2, 30)
    assert expr.latest_at(utc(2026, 1, 1, 2, 30, 59)) == utc(2026, 1, 1, 2, 30)


def test_utc_has_no_daylight_saving_gaps_or_repeats() -> None:
    # 02:30 does not exist in Central Europe on 2026-03-29 and happens twice on
    # 2026-10-25; in UTC every day has it exactly once, 24 h apart.
    expr = parse_cron("30 2 * * *")
    days, total = expr.between(utc(2026, 3, 1), utc(2026, 11, 30), limit=1000)
    assert total == len(days) == 274
    assert {b - a for a, b in itertools.pairwise(days)} == {timedelta(days=1)}
    assert utc(2026, 3, 29, 2, 30) in days and utc(2026, 10, 25, 2, 30) in days


def test_naive_means_utc_and_aware_times_are_converted() -> None:
    expr = parse_cron("0 9 * * *")
    assert expr.next_after(datetime(2026, 1, 1, 8, 0)) == utc(2026, 1, 1, 9)
    plus_two = timezone(timedelta(hours=2))
    # 10:00+02:00 is 08:00 UTC: 09:00 UTC is still to come that day.
    assert expr.next_after(datetime(2026, 1, 1, 10, 0, tzinfo=plus_two)) == utc(2026, 1, 1, 9)


def test_between_keeps_the_newest_and_counts_all() -> None:
    expr = parse_cron("0 * * * *")
    kept, total = expr.between(utc(2026, 1, 1), utc(2026, 1, 2), limit=3)
    assert total == 24
    assert kept == [utc(2026, 1, 1, 22), utc(2026, 1, 1, 23), utc(2026, 1, 2)]
