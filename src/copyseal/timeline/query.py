"""The timeline queries: a site's, a match's or a case's record in three statements.

Whatever the number of visits: the matches (with their first capture's time, from the
sealed bundle), then their visits in order, joined on the same condition (the
``(match_id, visited_at)`` index of ``match_visits``), then the notices sent for the
cases holding them; no query per match. A site's timeline leaves out matches a reviewer
rejected or decided licensed last and matches a licence covers (they are not
infringements); a match or a
case asked for by id is shown whatever its status.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, exists, select
from sqlalchemy.orm import aliased

from copyseal.db.schema.bundle import EvidenceBundle
from copyseal.db.schema.crawl import CrawlMatch
from copyseal.db.schema.record import CaseNotice, MatchVisit
from copyseal.db.schema.review import CaseMatch, Decision
from copyseal.review.errors import NotFound
from copyseal.review.sites import domain_of, on_site
from copyseal.timeline.model import (
    MatchTimeline,
    NoticeEvent,
    SiteTimeline,
    Visit,
    group_by_site,
)
from copyseal.times import utc
from copyseal.workspace import Workspace

__all__ = ["case_timelines", "match_timeline", "site_timeline", "timelines"]


def _not_dismissed() -> ColumnElement[bool]:
    """The match's newest decision is neither a rejection nor "licensed" (or it has
    none): the matches ``copyseal revisit`` follows."""
    last, newer = aliased(Decision), aliased(Decision)
    dismissed_last = exists().where(
        last.match_id == CrawlMatch.id,
        last.decision.in_(("rejected", "licensed")),
        ~exists().where(newer.match_id == last.match_id, newer.id > last.id),
    )
    return ~dismissed_last


def timelines(conn: Connection, where: ColumnElement[bool]) -> list[SiteTimeline]:
    """The timelines (one per site, sorted) of the matches that satisfy ``where``."""
    rows = conn.execute(
        select(
            CrawlMatch.id,
            CrawlMatch.work_id,
            CrawlMatch.page_url,
            CrawlMatch.found_at,
            CrawlMatch.bundle_id,
            EvidenceBundle.captured_at,
        )
        .select_from(CrawlMatch)
        .outerjoin(EvidenceBundle, EvidenceBundle.bundle_id == CrawlMatch.bundle_id)
        .where(where)
        .order_by(CrawlMatch.id)
    ).all()
    if not rows:
        return []
    visits: dict[int, list[Visit]] = {r.id: [] for r in rows}
    for v in conn.execute(
        select(
            MatchVisit.match_id,
            MatchVisit.visited_at,
            MatchVisit.result,
            MatchVisit.bundle_id,
            MatchVisit.similarity,
            MatchVisit.ledger_index,
        )
        # "IN (the matches)" rather than a join: SQLite then probes the (match_id,
        # visited_at) index once per match instead of testing the condition on every
        # visit (87 ms against 359 ms at 10^5 visits; PostgreSQL plans both alike:
        # benchmarks/README.md, "Timeline").
        .where(
            MatchVisit.match_id.in_(select(CrawlMatch.id).where(where)),
            MatchVisit.result.is_not(None),
        )
        .order_by(MatchVisit.match_id, MatchVisit.visited_at, MatchVisit.id)
    ):
        visits[v.match_id].append(
            Visit(
                at=utc(v.visited_at),
                result=v.result,
                bundle_id=v.bundle_id,
                similarity=v.similarity,
                ledger_index=v.ledger_index,
            )
        )
    notices: dict[int, list[NoticeEvent]] = {}
    for n in conn.execute(
        select(CaseMatch.match_id, CaseNotice)
        .join(CaseNotice, CaseNotice.case_id == CaseMatch.case_id)
        .join(CrawlMatch, CrawlMatch.id == CaseMatch.match_id)
        .where(where, CaseNotice.sent_at.is_not(None))
    ):
        notices.setdefault(n.match_id, []).append(
            NoticeEvent(
                notice_id=n.notice_id,
                case_id=n.case_id,
                kind=n.kind,
                sha256=n.sha256,
                sent_to=n.sent_to or "",
                sent_at=utc(n.sent_at),
                ledger_index=n.ledger_index,
            )
        )
    matches = [
        MatchTimeline(
            match_id=r.id,
            work_id=r.work_id,
            page_url=r.page_url,
            site=domain_of(r.page_url),
            visits=(
                Visit(
                    at=utc(r.captured_at or r.found_at),
                    result="present",
                    bundle_id=r.bundle_id,
                    similarity=None,
                ),
                *visits[r.id],
            ),
        )
        for r in rows
    ]
    return group_by_site(matches, notices)


def _empty(site: str) -> SiteTimeline:
    return SiteTimeline(site=site, matches=())


def site_timeline(ws: Workspace, site: str) -> SiteTimeline:
    """The record of ``site`` (a host, as :func:`~copyseal.review.sites.domain_of` gives
    it): every match on it that is neither rejected nor licensed, with its visits.

    Raises:
        NotFound: no such match on that site.
    """
    host = site.strip().lower()
    with ws.engine.connect() as conn:
        where = and_(on_site(conn, host), _not_dismissed(), CrawlMatch.licence.is_(None))
        found = timelines(conn, where)
    if not found:
        raise NotFound(f"no unrejected, unlicensed match on site {site!r}")
    return found[0]


def match_timeline(ws: Workspace, match_id: int) -> SiteTimeline:
    """The record of one match (the timeline of its site, restricted to it).

    Raises:
        NotFound: no such match.
    """
    with ws.engine.connect() as conn:
        found = timelines(conn, CrawlMatch.id == match_id)
    if not found:
        raise NotFound(f"no match {match_id}")
    return found[0]


def case_timelines(ws: Workspace, case_id: str) -> list[SiteTimeline]:
    """The record of each site of a case's matches (sorted by site; [] for no matches)."""
    member = aliased(CaseMatch)  # the notices query joins CaseMatch itself
    in_case: Any = exists().where(member.case_id == case_id, member.match_id == CrawlMatch.id)
    with ws.engine.connect() as conn:
        return timelines(conn, in_case)
