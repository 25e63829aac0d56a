"""The queue filters, sorts, counts and pages in SQL exactly as a plain Python reading of
its contract would, on SQLite and PostgreSQL, over a few hundred generated matches."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from copyseal.db.models import Work
from copyseal.db.schema.crawl import CrawlJob, CrawlMatch
from copyseal.db.schema.review import Case, CaseMatch, Decision
from copyseal.review._sql import host_of, prefix_of, url_prefix
from copyseal.review.decisions import DECISIONS, STATUSES
from copyseal.review.queue import QueueFilter, match_item, queue, statuses
from copyseal.workspace import Workspace

START = datetime(2026, 3, 1, tzinfo=UTC)
PAGES = [
    "https://a.example/p",
    "https://A.Example:8443/x",
    "http://user:pw@b.example/",
    "https://[2001:DB8::1]:8080/",
    "https://пример.рф/путь/",
    "https://c.example/?next=https://a.example/",
    "//cdn.example.org/",
]
WORKS = {"w" + "1" * 20: ("sunset", "Jane Doe"), "w" + "2" * 20: (None, None)}


@dataclass
class Expected:
    """What the queue should say about one generated match."""

    match_id: int
    job_id: str
    page_url: str
    work_id: str
    score: float
    found_at: datetime
    status: str
    decided_at: datetime | None
    cases: tuple[str, ...]

    @property
    def site(self) -> str:
        return (urlsplit(self.page_url).hostname or "").lower()


def _generate(ws: Workspace, n: int, seed: int) -> list[Expected]:
    rnd = random.Random(seed)
    # Few distinct instants and scores, so the sorts' tie-breaks matter.
    instants = [
        START + timedelta(days=rnd.randrange(30), seconds=rnd.choice([0, 1, 43200, 86399]))
        for _ in range(n // 3)
    ] + [START + timedelta(days=9), START + timedelta(days=10, microseconds=-1)]
    scores = [round(rnd.uniform(0.3, 1.0), 3) for _ in range(n // 4)] + [0.5, 0.8]
    with Session(ws.engine) as s, s.begin():
        for work_id, (title, owner) in WORKS.items():
            s.add(
                Work(
                    work_id=work_id,
                    sha256=work_id[1] * 64,
                    size=1,
                    width=1,
                    height=1,
                    format="JPEG",
                    owner=owner,
                    title=title,
                    registered_at=START,
                )
            )
        for job in ("job1", "job2"):
            s.add(
                CrawlJob(
                    job_id=job,
                    target="t",
                    spider="site",
                    render=False,
                    status="finished",
                    spec="{}",
                    created_at=START,
                )
            )
        s.flush()
        rows = []
        for i in range(n):
            row = CrawlMatch(
                job_id=rnd.choice(["job1", "job2"]),
                page_key=f"p{i}",
                image_key=f"i{i}",
                page_url=rnd.choice(PAGES) + str(i),
                image_url=f"https://img.example/{i}.jpg",
                work_id=rnd.choice(list(WORKS)),
                score=rnd.choice(scores),
                image_sha256="b" * 64,
                location="{}",
                detail=json.dumps({"method": "geometric"}),
                found_at=rnd.choice(instants),
            )
            s.add(row)
            rows.append(row)
        s.flush()
        # Decisions in random order across matches: the newest (highest id) one counts.
        latest: dict[int, tuple[str, datetime]] = {}
        decided = [r for r in rows if rnd.random() < 0.7]
        for k, r in enumerate(rnd.choices(decided, k=len(decided) * 2)):
            decision, at = rnd.choice(DECISIONS), START + timedelta(days=40, minutes=k)
            s.add(
                Decision(
                    match_id=r.id,
                    decision=decision,
                    reason="other" if decision == "rejected" else None,
                    comment="x",
                    reviewer="rita",
                    decided_at=at,
                    ledger_index=k,
                )
            )
            s.flush()
            latest[r.id] = (decision, at)
        cases: dict[int, list[str]] = {}
        for case_id in ("case-a", "case-b"):
            s.add(Case(case_id=case_id, title=case_id, created_by="lars", created_at=START))
            s.flush()
            for r in rnd.sample(rows, 12):
                s.add(CaseMatch(case_id=case_id, match_id=r.id, added_at=START))
                cases.setdefault(r.id, []).append(case_id)
        return [
            Expected(
                match_id=r.id,
                job_id=r.job_id,
                page_url=r.page_url,
                work_id=r.work_id,
                score=r.score,
                found_at=r.found_at,
                status=latest.get(r.id, ("new", None))[0],
                decided_at=latest.get(r.id, ("new", None))[1],
                cases=tuple(cases.get(r.id, ())),
            )
            for r in rows
        ]


def _expect(data: list[Expected], f: QueueFilter) -> tuple[list[int], int, dict[str, int]]:
    """The page's match ids, the total and the counts, read plainly off the contract."""
    kept = [
        m
        for m in data
        if (not f.site or m.site == f.site.lower())
        and (not f.work_id or m.work_id == f.work_id)
        and (not f.job_id or m.job_id == f.job_id)
        and (f.min_score is None or m.score >= f.min_score)
        and (f.max_score is None or m.score <= f.max_score)
        and (not f.found_from or m.found_at.date() >= f.found_from)
        and (not f.found_to or m.found_at.date() <= f.found_to)
    ]
    counts = {s: sum(1 for m in kept if m.status == s) for s in STATUSES}
    chosen = [m for m in kept if f.status is None or m.status == f.status]
    if f.sort == "strongest":
        chosen.sort(key=lambda m: (m.score, m.found_at, m.match_id), reverse=True)
    else:
        chosen.sort(key=lambda m: (m.found_at, m.match_id), reverse=f.sort == "newest")
    page = chosen[f.offset : f.offset + f.limit]
    return [m.match_id for m in page], len(chosen), counts


FILTERS = [
    QueueFilter(),
    QueueFilter(sort="oldest", limit=500),
    QueueFilter(sort="strongest", limit=500),
    *(QueueFilter(status=s, limit=500) for s in STATUSES),
    QueueFilter(site="a.example", sort="strongest", limit=500),
    QueueFilter(site="A.EXAMPLE", status="new"),
    QueueFilter(site="пример.рф", sort="oldest"),
    QueueFilter(site="2001:db8::1"),
    QueueFilter(site="cdn.example.org", status="confirmed"),
    QueueFilter(site="nowhere.example"),
    QueueFilter(work_id="w" + "2" * 20, sort="strongest", limit=40, offset=20),
    QueueFilter(job_id="job1", status="rejected"),
    QueueFilter(min_score=0.5, max_score=0.8, sort="strongest", limit=500),
    QueueFilter(min_score=0.8),
    QueueFilter(max_score=0.5, status="needs-more-info"),
    QueueFilter(found_from=date(2026, 3, 10), found_to=date(2026, 3, 10), limit=500),
    QueueFilter(found_from=date(2026, 3, 5), found_to=date(2026, 3, 20), sort="strongest"),
    QueueFilter(found_to=date(2026, 3, 1), sort="oldest"),
    QueueFilter(found_to=date.max, found_from=date.min),
    QueueFilter(limit=7, offset=0),
    QueueFilter(limit=7, offset=7),
    QueueFilter(limit=50, offset=290, sort="oldest"),
    QueueFilter(limit=50, offset=400),
    QueueFilter(
        status="confirmed",
        site="b.example",
        min_score=0.4,
        found_from=date(2026, 3, 3),
        sort="strongest",
    ),
]


@pytest.fixture
def generated(workspace: Workspace) -> list[Expected]:
    return _generate(workspace, 300, seed=20260301)


def _name(f: QueueFilter) -> str:
    default = QueueFilter().to_json()
    return ",".join(f"{k}={v}" for k, v in f.to_json().items() if v != default[k]) or "default"


def test_the_queue_matches_a_plain_reading(workspace: Workspace, generated: list[Expected]) -> None:
    sites = tuple(sorted({m.site for m in generated}))
    assert len(sites) == len(PAGES) - 1  # two of them on a.example
    for f in FILTERS:
        ids, total, counts = _expect(generated, f)
        page = queue(workspace, f)
        assert [i.match_id for i in page.items] == ids, _name(f)
        assert (page.total, page.counts) == (total, counts), _name(f)
        assert page.sites == sites
        assert set(page.to_json()) == {"items", "total", "counts", "filter", "sites"}
    assert sum(bool(_expect(generated, f)[0]) for f in FILTERS) >= len(FILTERS) - 3


def test_items_carry_the_latest_decision_work_and_cases(
    workspace: Workspace, generated: list[Expected]
) -> None:
    by_id = {m.match_id: m for m in generated}
    items = queue(workspace, QueueFilter(limit=500)).items
    assert len(items) == 300 and {i.status for i in items} == {"new", *DECISIONS}
    assert any(i.cases for i in items)
    for item in items:
        m = by_id[item.match_id]
        assert (item.status, item.site, item.cases) == (m.status, m.site, m.cases)
        assert item.decided_at == m.decided_at
        assert item.found_at == m.found_at and item.score == m.score
        assert (item.work_title, item.work_owner) == WORKS[m.work_id]
        assert item.method == "geometric"
    some = [m.match_id for m in generated[:40]] + [10**9]
    assert statuses(workspace, some) == {i.match_id: i for i in items if i.match_id in some}


def test_the_next_match_follows_the_queue_order(
    workspace: Workspace, generated: list[Expected]
) -> None:
    f = QueueFilter(status="new", sort="strongest")
    ids, _, _ = _expect(generated, QueueFilter(status="new", sort="strongest", limit=500))
    assert match_item(workspace, ids[0], f=f).next_match_id == ids[1]
    assert match_item(workspace, ids[1], f=f).next_match_id == ids[0]
    assert match_item(workspace, ids[-1], f=f).next_match_id == ids[0]


URLS = [
    "https://a.example/",
    "https://a.example",
    "HTTPS://A.Example:8080/x?y#z",
    "http://user:pw@Host.COM/p/q/r",
    "http://u@v@h.io:1/",
    "http://[::1]:8000/a",
    "http://[2001:DB8::1]/",
    "https://xn--e1afmkfd.xn--p1ai/путь",
    "https://ПРИМЕР.РФ/",
    "https://пример.рф?q=/a/b",
    "mailto:x@y",
    "mailto:",
    "/relative/path/x",
    "/",
    "a/",
    "x:/",
    "http:/",
    "http:/host/a",
    "//cdn.example.com/x",
    "//cdn.example.com",
    "http://h.example?q=http://other/",
    "http://h.example#frag@x/y",
    "",
    "http://",
    "http:///path",
    "weird+scheme.1-x://Host/",
    "1http://x/",
    "http://[::1/",
    "ab//c/d:e",
    "http:/x//y/z",
    "/a//b",
    "x://",
]


def test_the_url_prefix_in_sql_keeps_the_host(workspace: Workspace) -> None:
    with workspace.engine.connect() as conn:
        for url in URLS:
            prefix = conn.execute(sa.select(url_prefix(sa.literal(url)))).scalar_one()
            assert prefix == prefix_of(url) and host_of(prefix) == host_of(url), url
            if "[::1/" not in url:
                assert host_of(url) == (urlsplit(url).hostname or ""), url
