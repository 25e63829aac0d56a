"""Timeline benchmark: a site's and a match's record at 10^2 to 10^5 visits, against a
query per match.

Run: ``.venv/bin/python benchmarks/timeline.py [--max-exp 5] [--repeat 3] [--postgres]``
(``--quick``: 10^2 and 10^3 visits, one repeat).

Each size is a fresh workspace (SQLite file in WAL mode, as copyseal uses it; with
``--postgres`` also a fresh schema on ``$COPYSEAL_TEST_POSTGRES_URL`` or the local test
server) holding N generated visits: 10 per match (1 in 20 a failed attempt), the matches
spread over 10 sites, each with a sealed first capture, and one case per site with a
sent notice. Views:

* **site** — ``copyseal.timeline.site_timeline`` of one site (a tenth of the visits);
* **match** — ``match_timeline`` of one match;
* **baseline (N+1)** — the same site's record built the obvious way: the site's
  matches, then one query per match for its visits (what the three-statement query
  replaces); it must give the same timeline (checked before timing).

Times are the median of ``--repeat`` runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from copyseal.db.models import Work
from copyseal.db.schema.bundle import EvidenceBundle
from copyseal.db.schema.crawl import CrawlJob, CrawlMatch
from copyseal.db.schema.record import CaseNotice, MatchVisit
from copyseal.db.schema.review import Case, CaseMatch
from copyseal.timeline import MatchTimeline, SiteTimeline, Visit, match_timeline, site_timeline
from copyseal.timeline.query import timelines
from copyseal.times import utc
from copyseal.workspace import Workspace

# The same fresh SQLite / PostgreSQL workspace and timing as the review queue benchmark.
from review_queue import median_ms, workspace

START = datetime(2026, 1, 1, tzinfo=UTC)
SITES = 10
SITE = "s0.example"  # the site whose record is timed
PER_MATCH = 10
RESULTS = ["present"] * 6 + ["changed", "moved", "blocked", "removed"]


def populate(ws: Workspace, visits: int, seed: int = 7) -> None:
    """``visits`` visits over ``visits / 10`` matches on :data:`SITES` sites."""
    rng = random.Random(seed)
    matches = max(visits // PER_MATCH, 1)
    with ws.engine.begin() as conn:
        conn.execute(
            insert(Work),
            [{"work_id": "w1", "sha256": "a" * 64, "size": 1, "width": 1, "height": 1,
              "format": "JPEG", "owner": "Jane Doe", "title": "t", "registered_at": START}],
        )  # fmt: skip
        conn.execute(
            insert(CrawlJob),
            [{"job_id": "j1", "target": "t", "spider": "site", "render": False,
              "status": "finished", "spec": "{}", "created_at": START}],
        )  # fmt: skip
        conn.execute(
            insert(EvidenceBundle),
            [
                {"bundle_id": f"b{i}", "page_url": "x", "job_id": "j1", "path": f"/b{i}",
                 "manifest_sha256": "c" * 64, "leaf_hash": "d" * 64, "ledger_index": i,
                 "captured_at": START + timedelta(hours=i), "created_at": START}
                for i in range(matches)
            ],
        )  # fmt: skip
        conn.execute(
            insert(CrawlMatch),
            [
                {"id": i + 1, "job_id": "j1", "page_key": f"p{i}", "image_key": f"i{i}",
                 "page_url": f"https://s{i % SITES}.example/page-{i}.html",
                 "image_url": f"https://s{i % SITES}.example/{i}.jpg", "work_id": "w1",
                 "score": 0.9, "image_sha256": "b" * 64, "location": "{}", "detail": "{}",
                 "found_at": START + timedelta(hours=i), "bundle_id": f"b{i}"}
                for i in range(matches)
            ],
        )  # fmt: skip
        rows = []
        for i in range(matches):
            for k in range(PER_MATCH):
                failed = rng.random() < 0.05
                rows.append(
                    {"match_id": i + 1, "page_url": "x",
                     "visited_at": START + timedelta(hours=i, days=k + 1),
                     "result": None if failed else rng.choice(RESULTS),
                     "similarity": round(rng.uniform(0.7, 1.0), 4),
                     "error": "timeout" if failed else None}
                )  # fmt: skip
        for chunk in range(0, len(rows), 5000):
            conn.execute(insert(MatchVisit), rows[chunk : chunk + 5000])
        conn.execute(
            insert(Case),
            [{"case_id": f"c{s}", "title": "t", "domain": f"s{s}.example", "created_by": "b",
              "created_at": START} for s in range(SITES)],
        )  # fmt: skip
        conn.execute(
            insert(CaseMatch),
            [{"case_id": f"c{i % SITES}", "match_id": i + 1, "added_at": START}
             for i in range(matches)],
        )  # fmt: skip
        conn.execute(
            insert(CaseNotice),
            [{"notice_id": f"n{s}", "case_id": f"c{s}", "kind": "dmca", "file_name": "x",
              "sha256": "e" * 64, "size": 1, "created_by": "b", "created_at": START,
              "sent_to": "abuse@x", "sent_at": START + timedelta(days=3), "ledger_index": 1}
             for s in range(SITES)],
        )  # fmt: skip


def baseline(ws: Workspace, site: str) -> SiteTimeline:
    """The site's record with one query per match for its visits (the N+1 pattern)."""
    with ws.engine.connect() as conn:
        base = timelines(conn, CrawlMatch.page_url.like(f"https://{site}/%"))[0]
        matches = []
        for m in base.matches:
            visits = [
                Visit(at=utc(r.visited_at), result=r.result, bundle_id=r.bundle_id,
                      similarity=r.similarity)
                for r in conn.execute(
                    select(MatchVisit)
                    .where(MatchVisit.match_id == m.match_id, MatchVisit.result.is_not(None))
                    .order_by(MatchVisit.visited_at, MatchVisit.id)
                )
            ]  # fmt: skip
            matches.append(
                MatchTimeline(match_id=m.match_id, work_id=m.work_id, page_url=m.page_url,
                              site=m.site, visits=(m.visits[0], *visits))
            )  # fmt: skip
    return SiteTimeline(site=site, matches=tuple(matches), notices=base.notices)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-exp", type=int, default=5, help="largest size: 10^N visits")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL")
    parser.add_argument("--quick", action="store_true", help="10^2 and 10^3 visits, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.max_exp, args.repeat = 3, 1
    kinds = ["sqlite", "postgres"] if args.postgres else ["sqlite"]
    header = (
        f"{'database':<10} {'visits':>8} {'site visits':>11}  {'baseline ms':>11}"
        f" {'site ms':>8} {'x':>6} {'match ms':>9}"
    )
    print(header)
    print("-" * len(header))
    for kind in kinds:
        for exp in range(2, args.max_exp + 1):
            n = 10**exp
            with workspace(kind) as ws:
                populate(ws, n)
                record = site_timeline(ws, SITE)
                assert baseline(ws, SITE) == record, f"{kind} {n}: differs from the baseline"
                shown = sum(len(m.visits) for m in record.matches)
                old = median_ms(lambda: baseline(ws, SITE), args.repeat)
                new = median_ms(lambda: site_timeline(ws, SITE), args.repeat)
                one = median_ms(lambda: match_timeline(ws, 1), args.repeat)
                print(
                    f"{kind:<10} {n:>8,} {shown:>11,}  {old:>11.1f} {new:>8.1f}"
                    f" {old / new:>6.1f} {one:>9.1f}"
                )


if __name__ == "__main__":
    main()
