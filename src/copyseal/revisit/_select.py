"""Which known uses a re-visit looks at: matches by case, site or id, not rejected.

A match is re-visited while its review status (its newest decision) is ``new``,
``confirmed`` or ``needs-more-info``, and its work is still registered: a match rejected
in review or covered by a licence is not a use to follow. Several crawls can find the
same work on the same page; those matches are one use, visited once, under the oldest
match (whose bundle is the first capture).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from copyseal.db.schema.bundle import EvidenceBundle
from copyseal.db.schema.crawl import CrawlJob, CrawlMatch
from copyseal.db.schema.review import Case, CaseMatch, Decision
from copyseal.db.schema.works import Work
from copyseal.errors import RevisitError
from copyseal.workspace import Workspace

__all__ = ["KnownUse", "scheduled_uses", "select_uses"]

#: Review statuses whose matches are not re-visited.
_NOT_FOLLOWED = frozenset({"rejected", "licensed"})


@dataclass(frozen=True, kw_only=True)
class KnownUse:
    """A match to re-visit, with what its first capture recorded."""

    match_id: int
    page_url: str
    image_url: str
    work_id: str
    #: The matcher's report when the crawl found it (``Match.to_json()``).
    report: dict[str, Any]
    #: Where the image sat on the page (``crawl_matches.location``).
    location: dict[str, Any]
    #: The bundle of the first capture and its folder, if it was sealed.
    first_bundle_id: str | None
    first_bundle_path: str | None


def select_uses(
    ws: Workspace,
    *,
    cases: Sequence[str] = (),
    domains: Sequence[str] = (),
    match_ids: Sequence[int] = (),
) -> list[KnownUse]:
    """The known uses to re-visit: matches of any of ``cases``, on any of ``domains``
    (hosts), or with one of ``match_ids``; every followed match when all are empty. In
    match id order.

    Raises:
        RevisitError: a case or match id does not exist, or a match named by id was
            rejected in review (or is licensed), or its work was removed.
    """
    from copyseal.review.sites import on_site

    with Session(ws.engine) as db:
        for case_id in cases:
            if db.get(Case, case_id) is None:
                raise RevisitError(f"case {case_id}: no such case")
        for match_id in match_ids:
            if db.get(CrawlMatch, match_id) is None:
                raise RevisitError(f"match {match_id}: no such match")
        query = (
            select(CrawlMatch, EvidenceBundle.path)
            .join(CrawlJob, CrawlJob.job_id == CrawlMatch.job_id)
            .join(Work, Work.work_id == CrawlMatch.work_id)
            .outerjoin(EvidenceBundle, EvidenceBundle.bundle_id == CrawlMatch.bundle_id)
            .where(Work.removed_at.is_(None))
            .order_by(CrawlMatch.id)
        )
        chosen: list[ColumnElement[bool]] = []
        if cases:
            in_case = select(CaseMatch.match_id).where(CaseMatch.case_id.in_(list(cases)))
            chosen.append(CrawlMatch.id.in_(in_case))
        for domain in domains:
            chosen.append(on_site(db.connection(), domain))
        if match_ids:
            chosen.append(CrawlMatch.id.in_(list(match_ids)))
        if chosen:
            query = query.where(or_(*chosen))
        rows = list(db.execute(query))
        status = _statuses(db, [row[0].id for row in rows])
    named = set(match_ids)
    for match_id in named - {row[0].id for row in rows}:
        raise RevisitError(f"match {match_id}: its work was removed from the registry")
    uses: dict[tuple[str, str], KnownUse] = {}
    for match, path in rows:
        decided = status.get(match.id, "new")
        if decided in _NOT_FOLLOWED:
            if match.id in named:
                raise RevisitError(f"match {match.id}: {decided} in review, not a use to follow")
            continue
        key = (match.page_url, match.work_id)
        if key in uses:
            continue
        uses[key] = KnownUse(
            match_id=match.id,
            page_url=match.page_url,
            image_url=match.image_url,
            work_id=match.work_id,
            report=json.loads(match.detail or "{}"),
            location=json.loads(match.location or "{}"),
            first_bundle_id=match.bundle_id,
            first_bundle_path=path,
        )
    return sorted(uses.values(), key=lambda u: u.match_id)


def _statuses(db: Session, match_ids: list[int]) -> dict[int, str]:
    """Each match's newest decision (highest decision id), for the matches that have one."""
    found: dict[int, str] = {}
    for start in range(0, len(match_ids), 500):
        chunk = match_ids[start : start + 500]
        rows = db.execute(
            select(Decision.match_id, Decision.decision)
            .where(Decision.match_id.in_(chunk))
            .order_by(Decision.id)
        )
        for match_id, decision in rows:
            found[match_id] = decision
    return found


def scheduled_uses(ws: Workspace, job_id: str) -> list[int]:
    """The matches a scheduled job re-visits: when job ``job_id`` was started by a
    schedule with ``revisit_matches`` (its run queued earlier matches' pages), the
    followed matches that earlier jobs of the same target found; else none."""
    from copyseal.db.schema.crawl import ScheduleRun

    with Session(ws.engine) as db:
        run = db.scalar(
            select(ScheduleRun).where(ScheduleRun.job_id == job_id, ScheduleRun.revisit_pages > 0)
        )
        if run is None:
            return []
        ids = list(
            db.scalars(
                select(CrawlMatch.id)
                .join(CrawlJob, CrawlJob.job_id == CrawlMatch.job_id)
                .where(CrawlJob.target == run.target, CrawlMatch.job_id != job_id)
                .order_by(CrawlMatch.id)
            )
        )
    wanted = set(ids)
    return [u.match_id for u in select_uses(ws) if u.match_id in wanted]
