"""A case's facts as a notice states them: the works, and every use with its evidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from copyseal.db.models import Work
from copyseal.db.schema.bundle import EvidenceBundle
from copyseal.db.schema.crawl import CrawlMatch
from copyseal.db.schema.record import MatchVisit
from copyseal.db.schema.review import CaseMatch
from copyseal.notices.sender import NoticeError
from copyseal.review.cases import CaseRecord, get_case
from copyseal.review.sites import domain_of
from copyseal.timeline import SiteTimeline, case_timelines
from copyseal.times import utc
from copyseal.workspace import Workspace

__all__ = ["NoticeFacts", "UseFact", "WorkFact", "gather"]


@dataclass(frozen=True, kw_only=True)
class WorkFact:
    """A registered work: its original's hash and its registration in the ledger."""

    work_id: str
    title: str
    owner: str
    original_sha256: str
    registered_at: datetime
    ledger_index: int | None
    receipt: str | None  # the registration's tlog-proof receipt


@dataclass(frozen=True, kw_only=True)
class UseFact:
    """One infringing use: where, when it was captured, and its sealed bundle."""

    match_id: int
    work_id: str
    site: str
    page_url: str
    image_url: str
    captured_at: datetime
    bundle_id: str
    manifest_sha256: str
    bundle_ledger_index: int
    last_seen: datetime | None
    #: The first ``removed``/``page-gone`` visit after the last sighting (None: the copy
    #: was not found gone), so the notice does not state a use the record shows ended.
    removed_on: datetime | None = None
    #: Where the latest re-visit that saw the work found it, when that is not the page and
    #: image above (a ``moved`` or renamed copy): page URL, image URL, when, its bundle.
    now_at: tuple[str, str | None, datetime, str | None] | None = None


@dataclass(frozen=True, kw_only=True)
class NoticeFacts:
    """What a notice is written from."""

    case: CaseRecord
    origin: str
    works: tuple[WorkFact, ...]
    uses: tuple[UseFact, ...]
    timelines: tuple[SiteTimeline, ...]

    @property
    def sites(self) -> list[str]:
        return sorted({u.site for u in self.uses})

    @property
    def owners(self) -> list[str]:
        return sorted({w.owner for w in self.works})


def gather(ws: Workspace, case_id: str) -> NoticeFacts:
    """The facts of case ``case_id``.

    Raises:
        NotFound: no such case.
        NoticeError: the case has no matches, or a match has no sealed evidence bundle.
    """
    case = get_case(ws, case_id)
    if not case.match_ids:
        raise NoticeError(f"case {case_id} has no matches: nothing to notify")
    ledger = ws.ledger()
    timelines = case_timelines(ws, case_id)
    last_seen = {m.match_id: m.last_seen for t in timelines for m in t.matches}
    removed_on = {m.match_id: m.removed_on for t in timelines for m in t.matches}
    with Session(ws.engine) as s:
        now_at = _current_locations(s, case_id)
        rows = s.execute(
            select(CrawlMatch, EvidenceBundle, Work)
            .join(CaseMatch, CaseMatch.match_id == CrawlMatch.id)
            .outerjoin(EvidenceBundle, EvidenceBundle.bundle_id == CrawlMatch.bundle_id)
            .join(Work, Work.work_id == CrawlMatch.work_id)
            .where(CaseMatch.case_id == case_id)
            .order_by(CrawlMatch.id)
        ).all()
        uses, works = [], {}
        for match, bundle, work in rows:
            if bundle is None:
                raise NoticeError(f"case {case_id}: match {match.id} has no sealed evidence bundle")
            uses.append(
                UseFact(
                    match_id=match.id,
                    work_id=match.work_id,
                    site=domain_of(match.page_url),
                    page_url=match.page_url,
                    image_url=match.image_url,
                    captured_at=utc(bundle.captured_at),
                    bundle_id=bundle.bundle_id,
                    manifest_sha256=bundle.manifest_sha256,
                    bundle_ledger_index=bundle.ledger_index,
                    last_seen=last_seen.get(match.id),
                    removed_on=removed_on.get(match.id),
                    now_at=_elsewhere(now_at.get(match.id), match.page_url, match.image_url),
                )
            )
            if work.work_id not in works:
                works[work.work_id] = WorkFact(
                    work_id=work.work_id,
                    title=work.title or work.work_id,
                    owner=work.owner or "the rights holder",
                    original_sha256=work.sha256,
                    registered_at=utc(work.registered_at),
                    ledger_index=work.ledger_index,
                    receipt=None
                    if work.ledger_index is None
                    else ledger.receipt(work.ledger_index),
                )
    return NoticeFacts(
        case=case,
        origin=ledger.origin,
        works=tuple(sorted(works.values(), key=lambda w: w.work_id)),
        uses=tuple(uses),
        timelines=tuple(timelines),
    )


_SEEN = ("present", "changed", "moved")


def _current_locations(
    s: Session, case_id: str
) -> dict[int, tuple[str, str | None, datetime, str | None]]:
    """Per match of the case, where its latest sighting (a ``present``, ``changed`` or
    ``moved`` visit) found the work."""
    rows = s.execute(
        select(
            MatchVisit.match_id,
            MatchVisit.found_page_url,
            MatchVisit.found_image_url,
            MatchVisit.visited_at,
            MatchVisit.bundle_id,
        )
        .join(CaseMatch, CaseMatch.match_id == MatchVisit.match_id)
        .where(CaseMatch.case_id == case_id, MatchVisit.result.in_(_SEEN))
        .order_by(MatchVisit.visited_at, MatchVisit.id)
    ).all()
    latest: dict[int, tuple[str, str | None, datetime, str | None]] = {}
    for r in rows:  # in time order: the last one wins
        if r.found_page_url:
            at = utc(r.visited_at)
            latest[r.match_id] = (r.found_page_url, r.found_image_url, at, r.bundle_id)
    return latest


def _elsewhere(
    seen: tuple[str, str | None, datetime, str | None] | None, page_url: str, image_url: str
) -> tuple[str, str | None, datetime, str | None] | None:
    if seen is None or (seen[0] == page_url and seen[1] in (None, image_url)):
        return None
    return seen
