"""The timeline query over rows inserted directly, on SQLite and PostgreSQL: first capture
as first visit, failed visits left out, last seen, removed on, days in use, notices and
"removed N days after notice", and the site/match/case selections."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from copyseal.db.models import Work
from copyseal.db.schema.bundle import EvidenceBundle
from copyseal.db.schema.crawl import CrawlJob, CrawlMatch
from copyseal.db.schema.record import CaseNotice, MatchVisit
from copyseal.db.schema.review import Case, CaseMatch, Decision
from copyseal.review.errors import NotFound
from copyseal.timeline import case_timelines, match_timeline, site_timeline
from copyseal.workspace import Workspace

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def _seed(ws: Workspace) -> dict[str, int]:
    """Three matches on shop.example (one rejected), one on other.example (port 8080),
    their bundles, visits, a case with the first two and a sent notice."""
    with Session(ws.engine) as s, s.begin():
        s.add(
            Work(
                work_id="w1",
                sha256="a" * 64,
                size=1,
                width=1,
                height=1,
                format="JPEG",
                owner="Jane Doe",
                title="Harbour",
                registered_at=T0,
            )
        )
        s.add(
            CrawlJob(
                job_id="j1",
                target="t",
                spider="site",
                render=False,
                status="finished",
                spec="{}",
                created_at=T0,
            )
        )
        s.flush()
        for n in range(4):
            s.add(
                EvidenceBundle(
                    bundle_id=f"b{n}",
                    page_url="x",
                    job_id="j1",
                    path=f"/b{n}",
                    manifest_sha256="c" * 64,
                    leaf_hash="d" * 64,
                    ledger_index=n,
                    captured_at=_day(0) + timedelta(minutes=n),
                    created_at=_day(0),
                )
            )
        s.flush()
        ids = {}
        pages = {
            "a": "https://shop.example/a.html",
            "b": "http://SHOP.example/b.html",
            "rejected": "https://shop.example/c.html",
            "other": "https://other.example:8080/x.html",
        }
        for n, (key, page) in enumerate(pages.items()):
            row = CrawlMatch(
                job_id="j1",
                page_key=f"p{n}",
                image_key=f"i{n}",
                page_url=page,
                image_url=page + ".jpg",
                work_id="w1",
                score=0.9,
                image_sha256="b" * 64,
                location="{}",
                detail=json.dumps({"method": "geometric"}),
                found_at=_day(0) - timedelta(hours=1),
                bundle_id=f"b{n}",
            )
            s.add(row)
            s.flush()
            ids[key] = row.id
        s.add(
            Decision(
                match_id=ids["rejected"],
                decision="rejected",
                reason="false-match",
                reviewer="rita",
                decided_at=_day(0),
                ledger_index=9,
            )
        )
        visits = [
            ("a", 3, "present", 0.97),
            ("a", 5, None, None),  # a failed attempt: not in the timeline
            ("a", 10, "changed", 0.81),
            ("a", 12, "blocked", None),
            ("a", 14, "removed", None),
            ("a", 20, "page-gone", None),
            ("b", 4, "moved", 0.9),
            ("b", 11, "page-gone", None),
            ("rejected", 30, "present", 0.9),
            ("other", 2, "present", 0.95),
        ]
        for key, day, result, similarity in visits:
            s.add(
                MatchVisit(
                    match_id=ids[key],
                    page_url=pages[key],
                    visited_at=_day(day),
                    result=result,
                    similarity=similarity,
                    error=None if result else "timeout",
                )
            )
        s.add(
            Case(
                case_id="case-1", title="Shop", domain="shop.example", created_by="l", created_at=T0
            )
        )
        s.flush()
        s.add_all(CaseMatch(case_id="case-1", match_id=ids[k], added_at=T0) for k in ("a", "b"))
        s.flush()
        for notice_id, sent in (("notice-sent", _day(9)), ("notice-unsent", None)):
            s.add(
                CaseNotice(
                    notice_id=notice_id,
                    case_id="case-1",
                    kind="dmca",
                    file_name=f"notices/{notice_id}.txt",
                    sha256="e" * 64,
                    size=10,
                    created_by="l",
                    created_at=_day(8),
                    sent_to=None if sent is None else "abuse@shop.example",
                    sent_at=sent,
                    ledger_index=None if sent is None else 12,
                )
            )
    return ids


def test_site_timeline(workspace: Workspace) -> None:
    ids = _seed(workspace)
    record = site_timeline(workspace, "Shop.Example")
    doc = record.to_json()
    assert doc["site"] == "shop.example"
    # The rejected match is not part of the infringer's record.
    assert [m["match_id"] for m in doc["matches"]] == [ids["a"], ids["b"]]
    a = doc["matches"][0]
    assert [v["result"] for v in a["visits"]] == [
        "present",
        "present",
        "changed",
        "blocked",
        "removed",
        "page-gone",
    ]
    assert a["visits"][0] == {
        "at": _day(0).isoformat(),
        "result": "present",
        "bundle_id": "b0",
        "similarity": None,
    }
    assert a["visits"][2]["similarity"] == 0.81
    assert doc["first_seen"] == _day(0).isoformat()
    assert doc["last_seen"] == _day(10).isoformat()  # a's "changed" visit
    assert doc["days_in_use"] == 10
    # a removed on day 14 (the blocked visit proves nothing), b gone on day 11: the site
    # is clear on day 14.
    assert doc["removed_on"] == _day(14).isoformat()
    assert doc["notices"] == [
        {
            "notice_id": "notice-sent",
            "case_id": "case-1",
            "kind": "dmca",
            "sha256": "e" * 64,
            "sent_to": "abuse@shop.example",
            "sent_at": _day(9).isoformat(),
            "ledger_index": 12,
            "removed_days_after": 5,
        }
    ]
    assert record.times_seen == 5
    assert record.summary() == (
        "shop.example: in use from 2026-03-01 to 2026-03-11 (10 days), seen 5 times,"
        " removed on 2026-03-15, 5 days after a notice sent on 2026-03-10"
    )


def test_match_and_case_timelines(workspace: Workspace) -> None:
    ids = _seed(workspace)
    b = match_timeline(workspace, ids["b"])
    assert [m.match_id for m in b.matches] == [ids["b"]]
    assert b.last_seen == _day(4) and b.removed_on == _day(11)
    assert b.to_json()["removed_on"] == _day(11).isoformat()
    # A match asked for by id is shown whatever its review status.
    rejected = match_timeline(workspace, ids["rejected"])
    assert rejected.removed_on is None and rejected.last_seen == _day(30)
    assert "not removed" in rejected.summary()
    other = site_timeline(workspace, "other.example")
    # Captured 3 minutes after day 0, seen again on day 2: one whole day.
    assert other.days_in_use == 1 and other.removed_on is None and other.notices == ()
    (case,) = case_timelines(workspace, "case-1")
    assert case.site == "shop.example" and len(case.matches) == 2
    with pytest.raises(NotFound, match="no match 999"):
        match_timeline(workspace, 999)
    with pytest.raises(NotFound, match=r"nowhere\.example"):
        site_timeline(workspace, "nowhere.example")


def test_sighting_after_a_removal_reopens_the_use(workspace: Workspace) -> None:
    """The copy came back after being removed: not removed any more."""
    ids = _seed(workspace)
    with Session(workspace.engine) as s, s.begin():
        s.add(
            MatchVisit(
                match_id=ids["b"],
                page_url="http://SHOP.example/b.html",
                visited_at=_day(40),
                result="present",
                similarity=0.99,
            )
        )
    record = site_timeline(workspace, "shop.example")
    assert record.removed_on is None
    assert record.last_seen == _day(40) and record.days_in_use == 40
    assert record.to_json()["notices"][0]["removed_days_after"] is None


def test_a_match_decided_licensed_leaves_the_sites_record(workspace: Workspace) -> None:
    ids = _seed(workspace)
    with Session(workspace.engine) as s, s.begin():
        s.add(
            Decision(
                match_id=ids["b"],
                decision="licensed",
                reviewer="rita",
                decided_at=_day(1),
                ledger_index=10,
            )
        )
    record = site_timeline(workspace, "shop.example")
    assert [m.match_id for m in record.matches] == [ids["a"]]
    # A later confirmation brings it back.
    with Session(workspace.engine) as s, s.begin():
        s.add(
            Decision(
                match_id=ids["b"],
                decision="confirmed",
                reviewer="rita",
                decided_at=_day(2),
                ledger_index=11,
            )
        )
    assert len(site_timeline(workspace, "shop.example").matches) == 2
