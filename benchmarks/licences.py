"""Licence classification benchmark: the cost added per match by the licence check.

Run: ``.venv/bin/python benchmarks/licences.py [--matches 20000] [--repeat 3]``

A crawl loads every licence once (:func:`copyseal.licences.load_index`) and classifies
each match it stores in memory (:meth:`copyseal.licences.LicenceIndex.classify`). For
0 (the baseline: no licence, the check returns at once), 10, 1,000 and 10,000 licences,
this prints:

* **load ms** — reading every licence from a fresh SQLite workspace into the index;
* **spread µs/match** — licences spread over 1,000 works, matches on random works;
* **one work µs/match** — every licence on the one work every match is of (the worst
  case: 60 % plain domains, 20 % ``*.`` wildcards, 20 % URL patterns);

each the median of ``--repeat`` runs over ``--matches`` matches whose pages are a mix of
licensed hosts, subdomains, pattern URLs and unlicensed hosts. Target: < 2 ms per match
at 10,000 licences.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from copyseal.db.models import Work
from copyseal.db.schema.licences import Licence
from copyseal.licences import LicenceIndex, LicenceRecord, load_index
from copyseal.workspace import Workspace, init_workspace

START = datetime(2026, 1, 1, tzinfo=UTC)
SIZES = (0, 10, 1_000, 10_000)


def _licences(n: int, works: list[str], rnd: random.Random) -> list[LicenceRecord]:
    out = []
    for i in range(n):
        kind = rnd.random()
        domains: tuple[str, ...] = ()
        patterns: tuple[str, ...] = ()
        if kind < 0.6:
            domains = (f"site{i}.example",)
        elif kind < 0.8:
            domains = (f"*.net{i}.example",)
        else:
            patterns = (f"https://shop{i}.example/products/*",)
        until = START + timedelta(days=rnd.randrange(1, 720)) if rnd.random() < 0.5 else None
        out.append(
            LicenceRecord(
                licence_id=f"l{i:020x}",
                work_id=works[i % len(works)],
                licensee=f"licensee {i}",
                domains=domains,
                url_patterns=patterns,
                valid_from=START,
                valid_until=until,
                territory=None,
                terms_sha256=None,
                source="grant",
                created_at=START,
            )
        )
    return out


def _urls(n_licences: int, count: int, rnd: random.Random) -> list[str]:
    top = max(n_licences, 1)
    urls = []
    for _ in range(count):
        i, r = rnd.randrange(top), rnd.random()
        if r < 0.25:
            urls.append(f"https://site{i}.example/page/{rnd.randrange(100)}")
        elif r < 0.5:
            urls.append(f"https://www.net{i}.example/a/b")
        elif r < 0.75:
            urls.append(f"https://shop{i}.example/products/{rnd.randrange(1000)}")
        else:
            urls.append(f"https://unlicensed{rnd.randrange(10_000)}.example/x")
    return urls


def _per_match(index: LicenceIndex, works: list[str], urls: list[str], repeat: int) -> float:
    at = START + timedelta(days=100)
    pairs = [(works[i % len(works)], u) for i, u in enumerate(urls)]
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for work_id, url in pairs:
            index.classify(work_id=work_id, page_url=url, at=at)
        runs.append((time.perf_counter() - t0) / len(pairs))
    return statistics.median(runs) * 1e6


def _load_ms(records: list[LicenceRecord], works: list[str], repeat: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(init_workspace(Path(tmp) / "ws"))
        try:
            with ws.engine.begin() as conn:
                conn.execute(
                    insert(Work),
                    [
                        {
                            "work_id": w,
                            "sha256": f"{n:064x}",
                            "size": 1,
                            "width": 1,
                            "height": 1,
                            "format": "JPEG",
                            "exif": "{}",
                            "registered_at": START,
                        }
                        for n, w in enumerate(works)
                    ],
                )
                if records:
                    conn.execute(
                        insert(Licence),
                        [
                            {
                                "licence_id": r.licence_id,
                                "work_id": r.work_id,
                                "licensee": r.licensee,
                                "domains": json.dumps(list(r.domains)),
                                "url_patterns": json.dumps(list(r.url_patterns)),
                                "valid_from": r.valid_from,
                                "valid_until": r.valid_until,
                                "source": r.source,
                                "created_at": r.created_at,
                            }
                            for r in records
                        ],
                    )
            runs = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                with ws.engine.connect() as conn:
                    index = load_index(conn)
                runs.append(time.perf_counter() - t0)
            assert len(index) == len(records)
        finally:
            ws.close()
    return statistics.median(runs) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--matches", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rnd = random.Random(13)
    spread_works = [f"w{n:020x}" for n in range(1_000)]
    one_work = ["w" + "0" * 20]
    print(f"{'licences':>9} {'load ms':>9} {'spread µs/match':>16} {'one work µs/match':>18}")
    for n in SIZES:
        spread = _licences(n, spread_works, rnd)
        single = _licences(n, one_work, rnd)
        urls = _urls(n, args.matches, rnd)
        load = _load_ms(spread, spread_works, args.repeat)
        a = _per_match(LicenceIndex(spread), spread_works, urls, args.repeat)
        b = _per_match(LicenceIndex(single), one_work, urls, args.repeat)
        print(f"{n:>9,} {load:>9.1f} {a:>16.2f} {b:>18.2f}")


if __name__ == "__main__":
    main()
