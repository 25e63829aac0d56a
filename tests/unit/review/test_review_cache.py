"""What the queue keeps between views is never stale: the review status a trigger keeps,
the counts and the sites (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from copyseal.db import session as db
from copyseal.db.schema.crawl import CrawlMatch
from copyseal.db.schema.review import Decision, ReviewStatus
from copyseal.review.decisions import decide
from copyseal.review.queue import QueueFilter, next_match, queue
from copyseal.workspace import Workspace

AT = datetime(2026, 3, 2, tzinfo=UTC)


def _decision(match_id: int, decision_id: int, decision: str) -> dict[str, Any]:
    return {
        "id": decision_id,
        "match_id": match_id,
        "decision": decision,
        "reason": "other" if decision == "rejected" else None,
        "comment": "",
        "reviewer": "rita",
        "decided_at": AT,
        "ledger_index": decision_id,
    }


def _status(ws: Workspace) -> dict[int, tuple[int, str]]:
    with Session(ws.engine) as s:
        rows = s.execute(
            select(ReviewStatus.match_id, ReviewStatus.decision_id, ReviewStatus.decision)
        )
        return {m: (d, decision) for m, d, decision in rows}


def test_the_newest_decision_is_the_status_whoever_inserts_it(
    workspace: Workspace, seeded: list[int]
) -> None:
    a, b = seeded[0], seeded[1]
    with workspace.engine.begin() as conn:  # raw inserts, out of id order
        conn.execute(insert(Decision.__table__), [_decision(a, 10, "confirmed")])
        conn.execute(insert(Decision.__table__), [_decision(a, 5, "rejected")])
        conn.execute(insert(Decision.__table__), [_decision(b, 6, "rejected")])
        conn.execute(insert(Decision.__table__), [_decision(b, 11, "needs-more-info")])
    assert _status(workspace) == {a: (10, "confirmed"), b: (11, "needs-more-info")}
    # A migration rebuilds it from the decisions (the backfill of 0015).
    db.downgrade(workspace.engine, "0014_distributed")
    db.upgrade(workspace.engine)
    assert _status(workspace) == {a: (10, "confirmed"), b: (11, "needs-more-info")}
    page = queue(workspace, QueueFilter(status="confirmed"))
    assert [i.match_id for i in page.items] == [a] and page.counts["new"] == len(seeded) - 2


def test_concurrent_decisions_on_one_match_leave_the_newest(
    workspace: Workspace, seeded: list[int], people: dict[str, Any]
) -> None:
    match_id, rita = seeded[2], people["rita"]
    start = threading.Barrier(6)

    def one(k: int) -> None:
        start.wait()
        decision = ("confirmed", "needs-more-info")[k % 2]
        decide(workspace, rita, match_id=match_id, decision=decision, comment=f"try {k}")

    threads = [threading.Thread(target=one, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    with Session(workspace.engine) as s:
        newest = s.execute(
            select(Decision.id, Decision.decision)
            .where(Decision.match_id == match_id)
            .order_by(Decision.id.desc())
        ).first()
    assert newest is not None and _status(workspace)[match_id] == tuple(newest)


def test_counts_and_sites_follow_new_decisions_matches_and_deletions(
    workspace: Workspace, seeded: list[int], people: dict[str, Any]
) -> None:
    first = queue(workspace)
    assert first.counts["new"] == 5 and first.sites == ("a.example", "b.example")
    assert queue(workspace) == first  # from the cache, the same
    decide(workspace, people["rita"], match_id=seeded[0], decision="confirmed")
    assert queue(workspace).counts == {**first.counts, "new": 4, "confirmed": 1}
    filtered = QueueFilter(site="a.example")
    assert queue(workspace, filtered).counts["confirmed"] == 1
    with workspace.engine.begin() as conn:  # deleted behind the app's back
        conn.execute(delete(CrawlMatch).where(CrawlMatch.page_url.like("https://b.example%")))
    after = queue(workspace)
    assert after.sites == ("a.example",) and after.counts["new"] == 2
    with workspace.engine.begin() as conn:
        row = conn.execute(select(CrawlMatch).where(CrawlMatch.id == seeded[1])).mappings().one()
        conn.execute(
            insert(CrawlMatch.__table__),
            [
                {
                    **{k: v for k, v in row.items() if k != "id"},
                    "page_key": "new",
                    "page_url": "https://c.example/",
                }
            ],
        )
    again = queue(workspace)
    assert again.sites == ("a.example", "c.example") and again.counts["new"] == 3
    assert queue(workspace, QueueFilter(site="c.example")).total == 1


def test_the_next_match_needs_no_counting(workspace: Workspace, seeded: list[int]) -> None:
    strongest = QueueFilter(status="new", sort="strongest")
    ids = [i.match_id for i in queue(workspace, strongest).items]
    assert next_match(workspace, strongest, after=ids[0]) == ids[1]
    assert next_match(workspace, strongest, after=ids[3]) == ids[0]
    on_b = QueueFilter(status="new", site="b.example", sort="strongest")
    assert next_match(workspace, on_b, after=seeded[2]) == seeded[3]
    assert next_match(workspace, QueueFilter(status="confirmed"), after=ids[0]) is None
