"""Five-field cron expressions, evaluated in UTC.

The syntax is Vixie cron's (``man 5 crontab``): ``minute hour day-of-month month
day-of-week``, each field ``*``, a number, a range ``a-b``, a step ``*/n``, ``a-b/n`` or
``a/n`` (from ``a`` to the field's end), or a comma-separated list of these. Months and
weekdays may be named (``jan``-``dec``, ``sun``-``sat``, any case); Sunday is ``0`` or
``7``. The macros ``@yearly`` (``@annually``), ``@monthly``, ``@weekly``, ``@daily``
(``@midnight``) and ``@hourly`` are accepted.

As in Vixie cron, when both day-of-month and day-of-week are restricted (neither starts
with ``*``), a day matches if *either* matches: ``0 0 13 * fri`` is every 13th and every
Friday.

Times are UTC, always: UTC has no daylight-saving jumps, so every occurrence exists
exactly once and ``0 3 * * *`` is 03:00 UTC every day of the year.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from copyseal.times import utc

__all__ = ["CronError", "CronExpr", "parse_cron"]

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
#: (name, lowest, highest, names) of the five fields.
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _DAYS),
)
#: The longest gap between two days a valid expression can match: a 29 February that
#: must also be a given weekday (day-of-month OR weekday makes such gaps short, but
#: ``0 0 29 2 *`` alone recurs every 4 years, or 8 across a skipped century leap year).
_HORIZON_DAYS = 366 * 9


class CronError(ValueError):
    """A malformed cron expression (a ``ValueError``, so config validation reports it)."""


@dataclass(frozen=True, kw_only=True)
class CronExpr:
    """A parsed cron expression: the allowed values of each field.

    Use :func:`parse_cron` to build one; :meth:`next_after` and :meth:`latest_at` find
    occurrences (timezone-aware UTC datetimes, whole minutes).
    """

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday ... 6 = Saturday
    days_restricted: bool
    weekdays_restricted: bool

    def _day_matches(self, d: date) -> bool:
        if d.month not in self.months:
            return False
        in_days = d.day in self.days
        in_weekdays = (d.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_days or in_weekdays
        return in_days and in_weekdays

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after ``moment`` (naive means UTC).

        Raises:
            CronError: the expression never matches (e.g. ``0 0 31 2 *``).
        """
        start = utc(moment).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.date()
        for _ in range(_HORIZON_DAYS):
            if self._day_matches(day):
                first = day == start.date()
                for hour in sorted(self.hours):
                    if first and hour < start.hour:
                        continue
                    for minute in sorted(self.minutes):
                        if first and hour == start.hour and minute < start.minute:
                            continue
                        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
            day += timedelta(days=1)
        raise CronError(f"cron expression {self.text!r} never matches")

    def latest_at(self, moment: datetime) -> datetime:
        """The last occurrence at or before ``moment`` (naive means UTC).

        Raises:
            CronError: the expression never matches.
        """
        end = utc(moment).replace(second=0, microsecond=0)
        day = end.date()
        for _ in range(_HORIZON_DAYS):
            if self._day_matches(day):
                last = day == end.date()
                for hour in sorted(self.hours, reverse=True):
                    if last and hour > end.hour:
                        continue
                    for minute in sorted(self.minutes, reverse=True):
                        if last and hour == end.hour and minute > end.minute:
                            continue
                        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
            day -= timedelta(days=1)
        raise CronError(f"cron expression {self.text!r} never matches")

    def between(
        self, after: datetime, until: datetime, *, limit: int
    ) -> tuple[list[datetime], int]:
        """Occurrences in ``(after, until]``: the newest ``limit`` of them (oldest first),
        and how many there are in all."""
        out: list[datetime] = []
        total = 0
        moment = utc(after)
        end = utc(until)
        while True:
            moment = self.next_after(moment)
            if moment > end:
                return out, total
            total += 1
            out.append(moment)
            if len(out) > limit:
                del out[0]


def _value(token: str, name: str, names: dict[str, int]) -> int:
    key = token.lower()
    if key in names:
        return names[key]
    if not token.isdigit():
        raise CronError(f"{name} field: {token!r} is not a number")
    return int(token)


def _field(text: str, name: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"{name} field: empty list item in {text!r}")
        span, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{name} field: bad step {step_text!r}")
            step = int(step_text)
        if span == "*":
            first, last = low, high
        elif "-" in span:
            a, _, b = span.partition("-")
            first, last = _value(a, name, names), _value(b, name, names)
        else:
            first = _value(span, name, names)
            last = high if slash else first
        if not (low <= first <= high and low <= last <= high):
            raise CronError(f"{name} field: {part!r} is outside {low}-{high}")
        if first > last:
            raise CronError(f"{name} field: range {part!r} runs backwards")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def parse_cron(text: str) -> CronExpr:
    """Parse a five-field cron expression (or a macro such as ``@daily``).

    Raises:
        CronError: naming the field and the part that is wrong, or when the expression
            can never match (a day that no chosen month has, e.g. ``0 0 30 2 *``).
    """
    expanded = _MACROS.get(text.strip().lower(), text)
    parts = expanded.split()
    if len(parts) != 5:
        raise CronError(
            f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}"
        )
    fields = [
        _field(part, name, low, high, names)
        for part, (name, low, high, names) in zip(parts, _FIELDS, strict=True)
    ]
    weekdays = frozenset(d % 7 for d in fields[4])
    expr = CronExpr(
        text=text.strip(),
        minutes=fields[0],
        hours=fields[1],
        days=fields[2],
        months=fields[3],
        weekdays=weekdays,
        days_restricted=not parts[2].startswith("*"),
        weekdays_restricted=not parts[4].startswith("*"),
    )
    if expr.days_restricted and not expr.weekdays_restricted:
        longest = {m: 29 if m == 2 else calendar.monthrange(2001, m)[1] for m in expr.months}
        if not any(d <= longest[m] for m in expr.months for d in expr.days):
            raise CronError("no chosen month has the chosen day(s) of the month: never runs")
    return expr
