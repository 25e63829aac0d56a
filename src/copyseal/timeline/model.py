"""The infringer's record as values: visits, a match's history, a site's timeline.

Pure: built by :mod:`copyseal.timeline.query` from stored rows, summarised here. The
definitions (README, "Timeline"):

- a match's **first visit** is its first capture (the sealed bundle of the crawl that
  found it, else the time it was found), result ``present``; later visits are the
  ``match_visits`` rows with a result (a failed attempt has none and is left out);
- a **sighting** is a visit whose result is ``present``, ``changed`` or ``moved``;
- **last seen** is the last sighting; **removed on** is the first ``removed`` or
  ``page-gone`` visit after it (a ``blocked`` visit proves nothing either way);
- a site is removed when each of its matches is, on the last of those days;
- **days in use** is the number of whole days from the first to the last sighting, a
  lower bound (the use may have begun before it was found and gone on after);
- "removed N days after notice" counts whole days from the first notice sent at or
  before the removal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from copyseal.times import iso, utc

__all__ = [
    "GONE",
    "RESULTS",
    "SIGHTINGS",
    "MatchTimeline",
    "NoticeEvent",
    "SiteTimeline",
    "Visit",
]

#: Every result a visit may have (``match_visits.result``).
RESULTS: Final = ("present", "changed", "moved", "removed", "page-gone", "blocked")
#: Results that show the work still in use.
SIGHTINGS: Final = frozenset({"present", "changed", "moved"})
#: Results that show the use ended (the page was fetched and the work is not on it, or
#: the page itself is gone).
GONE: Final = frozenset({"removed", "page-gone"})


def _day(value: datetime | None) -> str:
    return "-" if value is None else utc(value).strftime("%Y-%m-%d")


@dataclass(frozen=True, kw_only=True)
class Visit:
    """One visit of a match's page: when, what was found, its bundle and similarity."""

    at: datetime
    result: str
    bundle_id: str | None
    similarity: float | None
    #: The visit's ``continued-use`` ledger statement (null for the first capture, whose
    #: bundle's own entry is its record); not in the JSON contract.
    ledger_index: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": iso(self.at),
            "result": self.result,
            "bundle_id": self.bundle_id,
            "similarity": None if self.similarity is None else round(self.similarity, 4),
        }


@dataclass(frozen=True, kw_only=True)
class MatchTimeline:
    """A match (a work on a page) and its visits, oldest first (the first is the capture)."""

    match_id: int
    work_id: str
    page_url: str
    site: str
    visits: tuple[Visit, ...]

    @property
    def sightings(self) -> tuple[Visit, ...]:
        return tuple(v for v in self.visits if v.result in SIGHTINGS)

    @property
    def first_seen(self) -> datetime | None:
        return min((v.at for v in self.sightings), default=None)

    @property
    def last_seen(self) -> datetime | None:
        # By time, not by position: a clock set wrong could date a visit before the capture.
        return max((v.at for v in self.sightings), default=None)

    @property
    def removed_on(self) -> datetime | None:
        """The first ``removed``/``page-gone`` visit after the last sighting (None: none)."""
        last = self.last_seen
        return min(
            (v.at for v in self.visits if v.result in GONE and (last is None or v.at > last)),
            default=None,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "match_id": self.match_id,
            "work_id": self.work_id,
            "page_url": self.page_url,
            "visits": [v.to_json() for v in self.visits],
        }


@dataclass(frozen=True, kw_only=True)
class NoticeEvent:
    """A takedown notice sent for a case that holds one of the timeline's matches."""

    notice_id: str
    case_id: str
    kind: str
    sha256: str
    sent_to: str
    sent_at: datetime
    ledger_index: int | None

    def to_json(self, removed_on: datetime | None = None) -> dict[str, Any]:
        return {
            "notice_id": self.notice_id,
            "case_id": self.case_id,
            "kind": self.kind,
            "sha256": self.sha256,
            "sent_to": self.sent_to,
            "sent_at": iso(self.sent_at),
            "ledger_index": self.ledger_index,
            "removed_days_after": None
            if removed_on is None or removed_on < self.sent_at
            else (removed_on - self.sent_at).days,
        }


@dataclass(frozen=True, kw_only=True)
class SiteTimeline:
    """A site's (or one match's) record: its matches' visits and the notices sent."""

    site: str
    matches: tuple[MatchTimeline, ...]
    notices: tuple[NoticeEvent, ...] = ()  # by time sent

    @property
    def first_seen(self) -> datetime | None:
        return min((t for m in self.matches if (t := m.first_seen)), default=None)

    @property
    def last_seen(self) -> datetime | None:
        return max((t for m in self.matches if (t := m.last_seen)), default=None)

    @property
    def times_seen(self) -> int:
        """Sightings over all the site's matches (the first captures included)."""
        return sum(len(m.sightings) for m in self.matches)

    @property
    def days_in_use(self) -> int | None:
        first, last = self.first_seen, self.last_seen
        return None if first is None or last is None else (last - first).days

    @property
    def removed_on(self) -> datetime | None:
        """When the last of the site's matches was removed (None: one is not, or none)."""
        removed = [m.removed_on for m in self.matches]
        if not removed or any(r is None for r in removed):
            return None
        return max(r for r in removed if r is not None)

    @property
    def notice_before_removal(self) -> NoticeEvent | None:
        """The first notice sent at or before the removal (None: not removed, or no
        notice came first)."""
        removed = self.removed_on
        if removed is None:
            return None
        return next((n for n in self.notices if n.sent_at <= removed), None)

    def to_json(self) -> dict[str, Any]:
        """The ``copyseal timeline --json`` document."""
        removed = self.removed_on
        return {
            "site": self.site,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "days_in_use": self.days_in_use,
            "removed_on": iso(removed),
            "notices": [n.to_json(removed) for n in self.notices],
            "matches": [m.to_json() for m in self.matches],
        }

    def summary(self) -> str:
        """One line: ``SITE: in use from … to … (N days), seen N times, removed on …
        (N days after a notice sent on …)``."""
        if self.first_seen is None:
            return f"{self.site}: no sighting recorded"
        days = self.days_in_use
        text = (
            f"{self.site}: in use from {_day(self.first_seen)} to {_day(self.last_seen)}"
            f" ({days} day{'' if days == 1 else 's'}), seen {self.times_seen}"
            f" time{'' if self.times_seen == 1 else 's'}, "
        )
        removed = self.removed_on
        if removed is None:
            text += "not removed"
            if self.notices:
                text += f" (notice sent on {_day(self.notices[0].sent_at)})"
            return text
        text += f"removed on {_day(removed)}"
        notice = self.notice_before_removal
        if notice is not None:
            after = (removed - notice.sent_at).days
            text += (
                f", {after} day{'' if after == 1 else 's'} after a notice sent on"
                f" {_day(notice.sent_at)}"
            )
        return text


def group_by_site(
    matches: Sequence[MatchTimeline], notices: dict[int, list[NoticeEvent]]
) -> list[SiteTimeline]:
    """One :class:`SiteTimeline` per site of ``matches`` (sorted by site), each with the
    notices of its matches' cases (``notices``: match id -> notices)."""
    by_site: dict[str, list[MatchTimeline]] = {}
    for m in matches:
        by_site.setdefault(m.site, []).append(m)
    out = []
    for site, rows in sorted(by_site.items()):
        seen: dict[str, NoticeEvent] = {}
        for m in rows:
            for n in notices.get(m.match_id, []):
                seen.setdefault(n.notice_id, n)
        ordered = sorted(seen.values(), key=lambda n: (n.sent_at, n.notice_id))
        out.append(SiteTimeline(site=site, matches=tuple(rows), notices=tuple(ordered)))
    return out
