"""Review queue benchmark: one page view at 10^3, 10^4 and 10^5 matches, in SQL vs in Python.

Run: ``.venv/bin/python benchmarks/review_queue.py [--max-exp 5] [--repeat 3] [--postgres]``

Each size is a fresh workspace (SQLite file in WAL mode, as copyseal uses it; with
``--postgres`` also a fresh schema on ``$COPYSEAL_TEST_POSTGRES_URL`` or the local test
server) holding N generated matches on 200 sites, 60 % of them decided (some twice), 1 %
in cases. A page view is ``queue()`` with the page's 50 items, the counts per status and
the list of sites, for two views: the default queue (newest first) and a filtered one
(status new on one site, strongest first).

* **old** — the baseline, the approach the queue had before: load every match with its
  work, newest decision and cases, then filter, count, sort and page in Python
  (reimplemented here as it was);
* **new** — ``copyseal.review.queue.queue``: filters, counts, sorting and paging in SQL.

Both must give the same page (checked before timing). Times are the median of
``--repeat`` runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from copyseal.config import load_settings
from copyseal.db.models import Work
from copyseal.db.schema.crawl import CrawlJob, CrawlMatch
from copyseal.db.schema.review import Case, CaseMatch, Decision
from copyseal.review.decisions import DECISIONS, STATUSES
from copyseal.review.queue import QueueFilter, QueueItem, QueuePage, queue
from copyseal.review.sites import domain_of
from copyseal.times import utc
from copyseal.workspace import Workspace, init_workspace

START = datetime(2026, 1, 1, tzinfo=UTC)
SITES = 200
PG_URL = os.environ.get(
    "COPYSEAL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


# -- the old approach (load everything, then Python) ----------------------------------


def old_load(ws: Workspace) -> list[QueueItem]:
    latest = (
        select(Decision.match_id, func.max(Decision.id).label("last_id"))
        .group_by(Decision.match_id)
        .subquery()
    )
    decided = (
        select(Decision.match_id, Decision.decision, Decision.decided_at)
        .join(latest, Decision.id == latest.c.last_id)
        .subquery()
    )
    query = (
        select(CrawlMatch, Work.title, Work.owner, decided.c.decision, decided.c.decided_at)
        .join(Work, Work.work_id == CrawlMatch.work_id)
        .outerjoin(decided, decided.c.match_id == CrawlMatch.id)
    )
    with Session(ws.engine) as s:
        rows = s.execute(query).all()
        cases: dict[int, list[str]] = {}
        for case_id, match_id in s.execute(
            select(CaseMatch.case_id, CaseMatch.match_id).order_by(CaseMatch.case_id)
        ):
            cases.setdefault(match_id, []).append(case_id)
    items = []
    for m, title, owner, decision, decided_at in rows:
        detail = json.loads(m.detail)
        items.append(
            QueueItem(
                match_id=m.id,
                job_id=m.job_id,
                page_url=m.page_url,
                image_url=m.image_url,
                site=domain_of(m.page_url),
                work_id=m.work_id,
                work_title=title,
                work_owner=owner,
                score=float(m.score),
                method=detail.get("method") if isinstance(detail, dict) else None,
                found_at=utc(m.found_at),
                bundle_id=m.bundle_id,
                status=decision or "new",
                decided_at=None if decided_at is None else utc(decided_at),
                cases=tuple(cases.get(m.id, ())),
            )
        )
    return items


def old_keep(item: QueueItem, f: QueueFilter) -> bool:
    found = item.found_at.date()
    return not (
        (f.site and item.site != f.site.lower())
        or (f.work_id and item.work_id != f.work_id)
        or (f.job_id and item.job_id != f.job_id)
        or (f.min_score is not None and item.score < f.min_score)
        or (f.max_score is not None and item.score > f.max_score)
        or (f.found_from and found < f.found_from)
        or (f.found_to and found > f.found_to)
    )


def old_queue(ws: Workspace, f: QueueFilter) -> QueuePage:
    everything = old_load(ws)
    filtered = [i for i in everything if old_keep(i, f)]
    counts = dict.fromkeys(STATUSES, 0)
    for item in filtered:
        counts[item.status] += 1
    selected = [i for i in filtered if f.status is None or i.status == f.status]
    if f.sort == "strongest":
        selected.sort(key=lambda i: (-i.score, -i.found_at.timestamp(), -i.match_id))
    elif f.sort == "oldest":
        selected.sort(key=lambda i: (i.found_at, i.match_id))
    else:
        selected.sort(key=lambda i: (i.found_at, i.match_id), reverse=True)
    return QueuePage(
        items=tuple(selected[f.offset : f.offset + f.limit]),
        total=len(selected),
        counts=counts,
        filter=f,
        sites=tuple(sorted({i.site for i in everything})),
    )


# -- data -----------------------------------------------------------------------------


def populate(ws: Workspace, n: int, seed: int = 7) -> None:
    """N matches on SITES sites; 60 % decided (a fifth of those twice), 1 % in cases."""
    rnd = random.Random(seed)
    with ws.engine.begin() as conn:
        conn.execute(
            insert(Work.__table__),
            [
                {
                    "work_id": f"w{k:020x}",
                    "sha256": f"{k:064x}",
                    "size": 1,
                    "width": 1,
                    "height": 1,
                    "format": "JPEG",
                    "exif": "{}",
                    "owner": "Jane Doe",
                    "title": f"work {k}",
                    "registered_at": START,
                }
                for k in range(20)
            ],
        )
        conn.execute(
            insert(CrawlJob.__table__),
            [
                {
                    "job_id": "job1",
                    "target": "t",
                    "spider": "site",
                    "render": False,
                    "status": "finished",
                    "spec": "{}",
                    "stats": "{}",
                    "runs": 1,
                    "created_at": START,
                }
            ],
        )
        detail = json.dumps({"method": "geometric", "score": 0.9, "inliers": 120})
        for start in range(0, n, 10_000):
            conn.execute(
                insert(CrawlMatch.__table__),
                [
                    {
                        "id": i + 1,
                        "job_id": "job1",
                        "page_key": f"p{i}",
                        "image_key": f"i{i}",
                        "page_url": f"https://s{rnd.randrange(SITES):03d}.example/page/{i}",
                        "image_url": f"https://cdn.example/{i}.jpg",
                        "work_id": f"w{rnd.randrange(20):020x}",
                        "score": round(rnd.uniform(0.3, 1.0), 4),
                        "image_sha256": "b" * 64,
                        "location": '{"kinds": ["img"]}',
                        "detail": detail,
                        "found_at": START + timedelta(seconds=rnd.randrange(90 * 86400)),
                        "bundle_id": None,
                    }
                    for i in range(start, min(n, start + 10_000))
                ],
            )
        decided = [i + 1 for i in range(n) if rnd.random() < 0.6]
        twice = decided[: len(decided) // 5]
        rows = [
            {
                "match_id": m,
                "decision": rnd.choice(DECISIONS),
                "reason": None,
                "comment": "",
                "reviewer": "rita",
                "decided_at": START + timedelta(days=100, seconds=k),
                "ledger_index": k,
            }
            for k, m in enumerate(decided + twice)
        ]
        for row in rows:
            if row["decision"] == "rejected":
                row["reason"] = "false-match"
        for start in range(0, len(rows), 10_000):
            conn.execute(insert(Decision.__table__), rows[start : start + 10_000])
        conn.execute(
            insert(Case.__table__),
            [{"case_id": "case-1", "title": "c", "created_by": "lars", "created_at": START}],
        )
        conn.execute(
            insert(CaseMatch.__table__),
            [
                {"case_id": "case-1", "match_id": m, "added_at": START}
                for m in rnd.sample(range(1, n + 1), max(1, n // 100))
            ],
        )


@contextmanager
def workspace(kind: str) -> Iterator[Workspace]:
    """A fresh workspace on SQLite (a temporary folder) or PostgreSQL (a fresh schema)."""
    with tempfile.TemporaryDirectory(prefix="copyseal-bench-queue-") as tmp:
        folder = Path(tmp) / "ws"
        if kind == "sqlite":
            init_workspace(folder)
            ws = Workspace.open(load_settings(folder / "config.yaml", env={}))
            try:
                yield ws
            finally:
                ws.close()
            return
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'create schema "{schema}"'))
        try:
            folder.mkdir()
            url = f"{PG_URL}?options=-csearch_path%3D{schema}"
            (folder / "config.yaml").write_text(f"database:\n  url: '{url}'\n", encoding="utf-8")
            init_workspace(None, config=folder / "config.yaml")
            ws = Workspace.open(load_settings(folder / "config.yaml", env={}))
            try:
                yield ws
            finally:
                ws.close()
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text(f'drop schema "{schema}" cascade'))
            admin.dispose()


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm the caches (and SQLAlchemy's statement cache)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


VIEWS = {
    "default (newest)": QueueFilter(),
    "new on one site, strongest": QueueFilter(status="new", site="s042.example", sort="strongest"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-exp", type=int, default=5, help="largest size: 10^N matches")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL")
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.postgres else ["sqlite"]
    header = f"{'database':<10} {'matches':>8}  {'view':<28} {'old ms':>9} {'new ms':>8} {'x':>6}"
    print(header)
    print("-" * len(header))
    for kind in kinds:
        for exp in range(3, args.max_exp + 1):
            n = 10**exp
            with workspace(kind) as ws:
                populate(ws, n)
                for label, f in VIEWS.items():
                    assert old_queue(ws, f) == queue(ws, f), f"{kind} {n} {label}: differs"
                    old = median_ms(lambda f=f: old_queue(ws, f), args.repeat)
                    new = median_ms(lambda f=f: queue(ws, f), args.repeat)
                    print(
                        f"{kind:<10} {n:>8,}  {label:<28} {old:>9.1f} {new:>8.1f} {old / new:>6.1f}"
                    )


if __name__ == "__main__":
    main()
