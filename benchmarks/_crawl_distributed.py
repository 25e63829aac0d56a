"""The distributed rows of ``benchmarks/crawl.py``: 1, 2 and 4 ``copyseal worker``
processes on this machine, sharing one PostgreSQL database and one Redis.

Each row enqueues one distributed crawl (``--distributed --no-capture``, empty catalogue,
as the ``copyseal static`` row) of the same generated site, starts N workers, and times
from the enqueue to the job's ``finished`` status (polled in the database every 0.1 s),
then stops the workers with SIGTERM. ``steady pages/s`` leaves out the workers' start
(imports, the first crawl session's process): from the first page done to the last.
Peak memory is the largest sum of the resident sets of every worker's process tree
(each worker and its crawl session), sampled every 0.1 s; CPU s is the user and system
time of the workers' trees (ended crawl sessions included), the figure that holds when
other programs share the machine. The single-process ``copyseal static`` crawl of the
same site runs in the same run, as the reference. Needs PostgreSQL
(``COPYSEAL_TEST_POSTGRES_URL`` or ``postgres@127.0.0.1:5432/test``) and Redis at
``redis://127.0.0.1:6379/0``; each row uses a fresh PostgreSQL schema, dropped after.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

_MB = 1 << 20
PG_SERVER_URL = os.environ.get(
    "COPYSEAL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = "redis://127.0.0.1:6379/0"


def _tree_cpu(pid: int, children: Callable[[], dict[int, list[int]]]) -> float:
    """CPU seconds used so far by ``pid`` and its descendants: each live process's user and
    system time plus those of its children that ended (``/proc/PID/stat`` fields 14-17),
    so a crawl session that ended is counted once, in its worker's."""
    tick = os.sysconf("SC_CLK_TCK")
    tree = children()
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(tree.get(p, ()))
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])
    return total / tick


def _workspace(tmp: Path, name: str, db_url: str, env: dict[str, str], pages: int) -> Path:
    ws = tmp / name
    ws.mkdir()
    config = ws / "config.yaml"
    config.write_text(
        f"database:\n  url: '{db_url}'\n"
        f"distributed:\n  redis_url: '{REDIS_URL}'\n  lease_seconds: 15\n"
        "crawl:\n  autothrottle: false\n  per_domain_concurrency: 16\n"
        f"  max_pages: {pages}\n  max_depth: 100000\n",
        encoding="utf-8",
    )
    subprocess.run(
        [sys.executable, "-m", "copyseal", "--config", str(config), "init"],
        check=True,
        capture_output=True,
        env=env,
    )
    return config


def _row(
    tmp: Path,
    n: int,
    url: str,
    env: dict[str, str],
    pages: int,
    tree_rss: Callable[[int], int],
    children: Callable[[], dict[int, list[int]]],
) -> tuple[str, int, int, float, float, int, float]:
    import sqlalchemy as sa

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_SERVER_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    db_url = f"{PG_SERVER_URL}?options=-csearch_path%3D{schema}"
    engine = sa.create_engine(db_url)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        config = _workspace(tmp, f"distributed{n}", db_url, env, pages)
        base = [sys.executable, "-m", "copyseal", "--config", str(config)]
        start = time.perf_counter()
        done = subprocess.run(
            [*base, "crawl", url, "--allow-private", "--distributed", "--no-capture", "--json"],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        job = json.loads(done.stdout)["job_id"]
        for _ in range(n):
            workers.append(
                subprocess.Popen(
                    [*base, "worker", "--poll", "0.2"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=env,
                )
            )
        peak, first = 0, None
        while True:
            peak = max(peak, sum(tree_rss(w.pid) for w in workers))
            with engine.connect() as conn:
                status = conn.execute(
                    sa.text("select status from crawl_jobs where job_id = :j"), {"j": job}
                ).scalar()
                done_pages = conn.execute(
                    sa.text(
                        "select count(*) from crawl_pages where job_id = :j and status = 'done'"
                    ),
                    {"j": job},
                ).scalar()
            if first is None and done_pages:
                first = time.perf_counter()
            if status == "finished":
                cpu = sum(_tree_cpu(w.pid, children) for w in workers)
                break
            if any(w.poll() is not None for w in workers):
                raise SystemExit(f"a worker exited early in the {n}-worker row")
            time.sleep(0.1)
        end = time.perf_counter()
        with engine.connect() as conn:
            images = conn.execute(
                sa.text("select count(*) from crawl_images where job_id = :j"), {"j": job}
            ).scalar()
            crawled = conn.execute(
                sa.text("select count(*) from crawl_pages where job_id = :j and kind = 'page'"),
                {"j": job},
            ).scalar()
        steady = end - (first or start)
        name = f"distributed, {n} worker(s)"
        return (name, int(crawled), int(images), end - start, steady, peak, cpu)
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=60)
            except subprocess.TimeoutExpired:
                w.kill()
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        admin.dispose()


def run_rows(
    args: Any,
    env: dict[str, str],
    tmp: Path,
    site: Any,
    serve: Callable[[Any], tuple[str, Any]],
    measured: Callable[..., tuple[float, str, int, dict[int, int]]],
    tree_rss: Callable[[int], int],
    children: Callable[[], dict[int, list[int]]],
    copyseal_crawl: Callable[..., list[str]],
    bare_script: str,
) -> None:
    """Crawl the site bare, then distributed with each worker count; print the table."""
    counts = [int(x) for x in args.distributed.split(",") if x]
    pages = args.distributed_pages
    base, server = serve(site)
    url = base + "/p/0.html"
    try:
        elapsed, out, peak, _ = measured([sys.executable, "-c", bare_script, url], env)
        images, responses = (int(x) for x in out.split())
        bare = (responses - images) / elapsed
        cmd = copyseal_crawl(tmp, "single", url, env, pages=pages, render=False)
        single, out, single_peak, _ = measured(cmd, env)
        single_pages = int(json.loads(out)["pages"])
        rows = [_row(tmp, n, url, env, pages, tree_rss, children) for n in counts]
    finally:
        server.shutdown()
    print(
        f"\nDistributed (PostgreSQL + Redis, empty catalogue, no capture), {pages} pages;"
        f" bare Scrapy on the same site: {bare:.1f} pages/s ({elapsed:.1f} s, {peak / _MB:.0f} MB)"
    )
    print(
        f"copyseal static, one process, same site: {single_pages / single:.1f} pages/s"
        f" ({single:.1f} s, x bare {single_pages / single / bare:.2f},"
        f" {single_peak / _MB:.0f} MB)"
    )
    print(
        f"{'crawl':<26}{'pages':>7}{'images':>8}{'seconds':>9}{'pages/s':>9}"
        f"{'steady p/s':>12}{'x bare':>8}{'CPU s':>7}{'CPU ms/page':>13}{'peak tree MB':>14}"
    )
    for name, n_pages, n_images, total, steady, mem, cpu in rows:
        print(
            f"{name:<26}{n_pages:>7}{n_images:>8}{total:>9.1f}{n_pages / total:>9.1f}"
            f"{n_pages / steady:>12.1f}{n_pages / total / bare:>8.2f}{cpu:>7.1f}"
            f"{1000 * cpu / n_pages:>13.0f}{mem / _MB:>14.0f}"
        )
