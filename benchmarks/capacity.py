"""The inputs of the capacity plan, measured here, and the plan they give for a volume.

Measures, on this machine, in one run:

- a distributed crawl (``copyseal crawl --distributed --no-capture`` and one ``copyseal
  worker``; PostgreSQL + Redis, empty catalogue) of the generated site of
  ``benchmarks/crawl.py``: the worker tree's CPU seconds per page, PostgreSQL bytes and rows
  per page (``pg_total_relation_size`` of every table, indexes and TOAST included, before
  and after), Redis bytes per queued request (the job's scrapy-redis priority queue,
  ``MEMORY USAGE`` over ``ZCARD``, sampled during the crawl) and per fingerprint of the
  duplicate filter;
- captures (``copyseal capture URL``, real Chromium) of a few of the site's pages into the
  same workspace: seconds per capture, bytes per sealed bundle on disk, ledger bytes per
  entry in PostgreSQL;

then prints the plan for ``--pages-per-month`` (default 10⁸). Three inputs are *not*
measurable on a generated site and are flags, printed as assumptions: images per page
(``--images-per-page``), the share of pages with a match, which are captured
(``--match-rate``), and the match stage's CPU ms per image (``--match-ms``, from the
match-stage row of ``benchmarks/crawl.py``). Anchors per day follow from
``anchors.every_seconds`` (one checkpoint anchored per kind per period, whatever the
volume: the Merkle root covers every entry).

Needs PostgreSQL (``COPYSEAL_TEST_POSTGRES_URL`` or ``postgres@127.0.0.1:5432/test``),
Redis at ``redis://127.0.0.1:6379/0`` and Debian's chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

_MB = 1 << 20
_MONTH_S = 30 * 86400
PG_SERVER_URL = os.environ.get(
    "COPYSEAL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = "redis://127.0.0.1:6379/0"


def _sizes(engine: object, schema: str) -> dict[str, int]:
    import sqlalchemy as sa

    with engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(
            sa.text(
                "select c.relname, pg_total_relation_size(c.oid) from pg_class c"
                " join pg_namespace n on n.oid = c.relnamespace"
                " where n.nspname = :s and c.relkind = 'r'"
            ),
            {"s": schema},
        ).all()
    return {name: int(size) for name, size in rows}


def _count(engine: object, table: str) -> int:
    import sqlalchemy as sa

    with engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(sa.text(f"select count(*) from {table}")).scalar() or 0)


def _redis_sampler(job: list[str], stop: threading.Event, out: dict[str, float]) -> None:
    """Every 0.1 s: bytes per member of the job's queue and duplicate filter (the largest
    queue sample, the last filter sample: it only grows)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    while not stop.wait(0.1):
        if not job:
            continue
        prefix = f"copyseal:crawl:{job[0]}:"
        for key in client.scan_iter(match=prefix + "*"):
            kind = client.type(key).decode()
            size = client.memory_usage(key) or 0
            if kind == "zset":
                n = client.zcard(key)
                if n >= 20:
                    out["queue_b"] = max(out.get("queue_b", 0.0), size / n)
                    out["queue_n"] = max(out.get("queue_n", 0.0), float(n))
            elif kind == "set":
                n = client.scard(key)
                if n:
                    out["filter_b"] = size / n
                    out["filter_n"] = float(n)


def _ledger_growth(config: Path, engine: object, schema: str, n: int) -> float:
    """Ledger bytes (entries, stored subtree hashes, signed checkpoints; indexes included)
    per entry over ``n`` appends of one statement each, as sealing appends them, each the
    size of the last bundle statement the captures appended."""
    from copyseal.config import load_settings
    from copyseal.workspace import Workspace

    ledger = Workspace.open(load_settings(config)).ledger()
    last = ledger.size() - 1
    data = ledger.leaf_data(last, last + 1)[0]
    before = sum(v for t, v in _sizes(engine, schema).items() if t.startswith("ledger_"))
    for _ in range(n):
        ledger.append([("bench", data)])
    after = sum(v for t, v in _sizes(engine, schema).items() if t.startswith("ledger_"))
    return (after - before) / n


def measure(args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    import sqlalchemy as sa

    from _crawl_distributed import _tree_cpu, _workspace
    from crawl import Site, _children, serve

    env = {**os.environ, "COPYSEAL_LOGGING__LEVEL": "WARNING"}
    schema = f"capacity_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_SERVER_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    db_url = f"{PG_SERVER_URL}?options=-csearch_path%3D{schema}"
    engine = sa.create_engine(db_url)
    site = Site(args.pages, 0)
    base_url, server = serve(site)
    got: dict[str, float] = {}
    job: list[str] = []
    stop = threading.Event()
    sampler = threading.Thread(target=_redis_sampler, args=(job, stop, got), daemon=True)
    worker: subprocess.Popen[bytes] | None = None
    try:
        config = _workspace(tmp, "capacity", db_url, env, args.pages)
        cs = [sys.executable, "-m", "copyseal", "--config", str(config)]
        before = _sizes(engine, schema)
        sampler.start()
        out = subprocess.run(
            [
                *cs,
                "crawl",
                base_url + "/p/0.html",
                "--allow-private",
                "--distributed",
                "--no-capture",
                "--json",
            ],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        job.append(json.loads(out.stdout)["job_id"])
        worker = subprocess.Popen(
            [*cs, "worker", "--poll", "0.2"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        start = time.perf_counter()
        while True:
            with engine.connect() as conn:
                status = conn.execute(
                    sa.text("select status from crawl_jobs where job_id = :j"), {"j": job[0]}
                ).scalar()
            if status == "finished":
                cpu = _tree_cpu(worker.pid, _children)
                break
            if worker.poll() is not None:
                raise SystemExit("the worker exited early")
            time.sleep(0.1)
        wall = time.perf_counter() - start
        stop.set()
        after = _sizes(engine, schema)
        pages = _count(engine, "crawl_pages where kind = 'page'")
        images = _count(engine, "crawl_images")
        grown = {t: after[t] - before.get(t, 0) for t in after if t.startswith("crawl_")}
        image_bytes = grown.pop("crawl_images", 0)
        rows = sum(_count(engine, t) for t in grown)
        got.update(
            pages=pages,
            images=images,
            cpu_s_page=cpu / pages,
            wall_pages_s=pages / wall,
            pg_bytes_page=sum(grown.values()) / pages,
            pg_rows_page=rows / pages,
            pg_bytes_image=image_bytes / max(images, 1),
        )
        # Captures: real Chromium, sealed into the same workspace's store and ledger.
        t0 = time.perf_counter()
        for i in range(args.captures):
            subprocess.run(
                [*cs, "capture", f"{base_url}/p/{i}.html", "--allow-private", "--json"],
                check=True,
                capture_output=True,
                env=env,
            )
        got["capture_s"] = (time.perf_counter() - t0) / args.captures
        bundles = config.parent / "evidence" / "bundles"
        total = sum(p.stat().st_size for p in bundles.rglob("*") if p.is_file())
        got["bundle_bytes"] = total / args.captures
        got["ledger_bytes_entry"] = _ledger_growth(config, engine, schema, args.entries)
    finally:
        stop.set()
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.kill()
        server.shutdown()
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        admin.dispose()
    return got


def plan(args: argparse.Namespace, m: dict[str, float]) -> None:
    per_s = args.pages_per_month / _MONTH_S
    per_day = args.pages_per_month / 30
    images_s = per_s * args.images_per_page
    crawl_cores = per_s * m["cpu_s_page"]
    match_cores = images_s * args.match_ms / 1000
    captures_day = per_day * args.match_rate
    browsers = captures_day / 86400 * m["capture_s"]
    pg_day = per_day * (m["pg_bytes_page"] + args.images_per_page * m["pg_bytes_image"])
    print(f"\nMeasured here ({int(m['pages'])} pages, {int(m['images'])} images, 1 worker):")
    print(
        f"  worker CPU per page (fetch, parse, store; no matching): {m['cpu_s_page'] * 1000:.0f} ms"
    )
    print(f"  one worker, wall: {m['wall_pages_s']:.1f} pages/s")
    print(
        f"  PostgreSQL per image (crawl_images + indexes): {m['pg_bytes_image']:.0f} B;"
        f" per page, the other crawl_* tables: {m['pg_bytes_page'] / 1024:.1f} KiB,"
        f" {m['pg_rows_page']:.1f} rows"
    )
    print(
        f"  Redis per queued request: {m.get('queue_b', float('nan')):.0f} B"
        f" (peak queue {m.get('queue_n', 0):.0f}); per duplicate-filter fingerprint:"
        f" {m.get('filter_b', float('nan')):.0f} B"
    )
    print(
        f"  capture + seal: {m['capture_s']:.2f} s each, bundle {m['bundle_bytes'] / _MB:.2f} MiB,"
        f" ledger {m['ledger_bytes_entry']:.0f} B per entry"
    )
    print(
        f"\nAssumed (flags): {args.images_per_page} images per page, match rate"
        f" {args.match_rate:.2%}, match stage {args.match_ms} CPU ms per image,"
        f" anchors every {args.anchor_every_s} s per kind"
    )
    print(f"\nPlan for {args.pages_per_month:.0e} pages a month ({per_s:.1f} pages/s sustained):")
    rows = [
        ("crawl CPU cores (fetch/parse/store)", f"{crawl_cores:.1f}"),
        ("match CPU cores", f"{match_cores:.1f}"),
        ("workers (1 per core, both stages)", f"{crawl_cores + match_cores:.0f}"),
        ("captures a day", f"{captures_day:,.0f}"),
        ("browsers busy (capture + seal)", f"{browsers:.1f}"),
        (
            "PostgreSQL rows a day (crawl)",
            f"{per_day * (m['pg_rows_page'] + args.images_per_page):,.0f}",
        ),
        (
            "PostgreSQL disk a day (crawl)",
            f"{pg_day / (1 << 30):.1f} GiB",
        ),
        ("ledger entries a day", f"{captures_day:,.0f}"),
        ("ledger growth a day", f"{captures_day * m['ledger_bytes_entry'] / _MB:.1f} MiB"),
        ("evidence storage a day", f"{captures_day * m['bundle_bytes'] / (1 << 30):.1f} GiB"),
        ("anchors a day, per kind", f"{86400 / args.anchor_every_s:.0f}"),
        (
            f"Redis for a job of {args.job_pages:.0e} pages (filter + a queue of 10 %)",
            f"{args.job_pages * (1 + args.images_per_page) * m.get('filter_b', 0) / _MB:,.0f}"
            f" + {args.job_pages * 0.1 * m.get('queue_b', 0) / _MB:,.0f} MiB",
        ),
    ]
    for name, value in rows:
        print(f"  {name:<58}{value:>16}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300, help="pages of the crawled site")
    parser.add_argument("--captures", type=int, default=3, help="pages captured and sealed")
    parser.add_argument("--pages-per-month", type=float, default=1e8)
    parser.add_argument("--images-per-page", type=float, default=20.0)
    parser.add_argument("--match-rate", type=float, default=0.005)
    parser.add_argument("--match-ms", type=float, default=34.0)
    parser.add_argument("--anchor-every-s", type=float, default=600.0)
    parser.add_argument("--entries", type=int, default=500, help="ledger appends measured")
    parser.add_argument("--job-pages", type=float, default=1e6, help="pages of one crawl job")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="copyseal-capacity-") as tmp:
        measured = measure(args, Path(tmp))
    plan(args, measured)


if __name__ == "__main__":
    main()
