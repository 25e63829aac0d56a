"""Distributed crawling: several ``copyseal worker`` processes, real PostgreSQL and Redis.

A generated site of linked pages (strangers' photos on every page, edited copies of two
registered works on some) is crawled once by the single-process crawl, as the reference,
then as a distributed job by 2–3 worker processes while the test kills workers with
SIGKILL (mid-crawl and mid-seal) and restarts Redis. Each run must end with exactly the
reference's matches, no duplicated match, bundle or ledger entry, and no done page
fetched again.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

from copyseal.config import load_settings
from copyseal.config._sections import MatchSettings
from copyseal.workspace import init_workspace

from .crawl_site import Site, serve

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PG_SERVER_URL = os.environ.get(
    "COPYSEAL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_SERVER = shutil.which("redis-server")
PAGES = 30
#: Pages that show an edited copy of a registered work (page number -> work).
COPIES = {3: "astronaut", 10: "coffee", 22: "astronaut"}
STRANGERS = ("rocket", "china", "flower", "chelsea")
#: Seconds the site takes to serve a page (so that a kill lands mid-crawl).
PAGE_DELAY = 0.4
LEASE = 3.0


def _jpeg(img: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    img.convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _build(photos: dict[str, np.ndarray]) -> tuple[Site, dict[str, bytes]]:
    """A tree of pages: page i links to 3i+1..3i+3; each shows a stranger's photo crop
    (distinct bytes per page) and some an edited copy of a registered work."""
    site = Site()
    works = {name: _jpeg(Image.fromarray(photos[name]), 92) for name in ("astronaut", "coffee")}
    for i in range(PAGES):
        stranger = Image.fromarray(photos[STRANGERS[i % len(STRANGERS)]])
        w, h = stranger.size
        d = 3 * i
        site.add(
            f"/img/s{i}.jpg", _jpeg(stranger.crop((d, d, w - 40 + d // 3, h - 30))), "image/jpeg"
        )
        body = [f"<html><head><title>Page {i}</title></head><body><h1>Page {i}</h1>"]
        body.append(f"<img src='/img/s{i}.jpg' width='400'>")
        if i in COPIES:
            original = Image.fromarray(photos[COPIES[i]])
            ow, oh = original.size
            edited = original.crop((ow // 10, oh // 12, ow - ow // 9, oh - ow // 14))
            edited = edited.resize((edited.width * 3 // 4, edited.height * 3 // 4))
            site.add(f"/img/c{i}.jpg", _jpeg(edited, 80), "image/jpeg")
            body.append(f"<img src='/img/c{i}.jpg' width='300'>")
        for child in range(3 * i + 1, min(3 * i + 4, PAGES)):
            body.append(f"<a href='/p{child}.html'>page {child}</a>")
        body.append("<a href='/p0.html'>home</a></body></html>")
        site.add(f"/p{i}.html", "".join(body))
        site.delays[f"/p{i}.html"] = PAGE_DELAY
    return site, works


@pytest.fixture(scope="module")
def site(photos: dict[str, np.ndarray]) -> Iterator[tuple[Site, dict[str, bytes]]]:
    built, works = _build(photos)
    stop = serve(built)
    yield built, works
    stop()


@pytest.fixture(scope="module")
def works_dir(
    tmp_path_factory: pytest.TempPathFactory, site: tuple[Site, dict[str, bytes]]
) -> Path:
    folder = tmp_path_factory.mktemp("works")
    for name, data in site[1].items():
        (folder / f"{name}.jpg").write_bytes(data)
    return folder


def _cli(config: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    return subprocess.run(
        [sys.executable, "-m", "copyseal", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def _match_overrides() -> list[str]:
    # One process per worker: no match pool per crawl session (2 cores shared by 3 workers).
    return ["match.workers=0"] if "workers" in MatchSettings.model_fields else []


def _key(m: dict[str, Any], base: str) -> tuple[str, str, str]:
    return (m["page_url"].removeprefix(base), m["image_url"].removeprefix(base), m["work_id"])


@pytest.fixture(scope="module")
def reference(
    tmp_path_factory: pytest.TempPathFactory, site: tuple[Site, dict[str, bytes]], works_dir: Path
) -> set[tuple[str, str, str]]:
    """The matches of the single-process crawl of the site (SQLite, no Redis)."""
    root = tmp_path_factory.mktemp("single") / "ws"
    init_workspace(root)
    config = root / "config.yaml"
    done = _cli(config, "register", str(works_dir), "--owner", "Jane Doe", "--json")
    assert done.returncode == 0, done.stderr
    sets = [f"--set={o}" for o in ["crawl.autothrottle=false", *_match_overrides()]]
    url = site[0].base + "/p0.html"
    done = _cli(
        config, *sets, "crawl", url, "--allow-private", "--no-capture", "--no-progress", "--json"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "finished"
    assert result["page_status"] == {"done": PAGES}
    found = {_key(m, site[0].base) for m in result["matches"]}
    assert {(p, i) for p, i, _ in found} == {(f"/p{n}.html", f"/img/c{n}.jpg") for n in COPIES}
    return found


@dataclass
class World:
    """A distributed workspace: its config, database, Redis, and its worker processes."""

    config: Path
    db_url: str
    redis_url: str
    workers: list[subprocess.Popen[bytes]]
    logs: Path

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _cli(self.config, *args)

    def start_worker(self) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
        with (self.logs / f"worker-{len(self.workers)}.log").open("wb") as log:
            p = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "copyseal",
                    "--config",
                    str(self.config),
                    "worker",
                    "--concurrency",
                    "2",
                    "--poll",
                    "0.3",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self.workers.append(p)
        return p

    def sql(self, query: str, **params: Any) -> list[Any]:
        engine = sa.create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(sa.text(query), params).all())
        finally:
            engine.dispose()

    def stop_all(self) -> list[int | None]:
        for p in self.workers:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes: list[int | None] = []
        for p in self.workers:
            try:
                codes.append(p.wait(timeout=60))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append(None)
        return codes

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self.logs.glob("*.log"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """A Redis of this test's own (no persistence), and a function that kills it with
    SIGKILL and starts it again 3 s later, empty, on the same port."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server not installed")
    port = _free_port()
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        procs.append(
            subprocess.Popen(
                [
                    REDIS_SERVER,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(tmp_path),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def restart() -> None:
        procs[-1].kill()
        procs[-1].wait()
        time.sleep(3.0)  # down long enough for every worker to meet the outage
        start()

    start()
    yield f"redis://127.0.0.1:{port}/0", restart
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


@pytest.fixture
def world(
    tmp_path: Path, works_dir: Path, redis_server: tuple[str, Callable[[], None]]
) -> Iterator[World]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_SERVER_URL, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'create schema "{schema}"'))
    except sa.exc.OperationalError as e:
        admin.dispose()
        if os.environ.get("COPYSEAL_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL not reachable at {PG_SERVER_URL}: {e}")
        pytest.skip(f"PostgreSQL not reachable at {PG_SERVER_URL}")
    db_url = f"{PG_SERVER_URL}?options=-csearch_path%3D{schema}"
    root = tmp_path / "ws"
    root.mkdir()
    (root / "config.yaml").write_text(
        f"database:\n  url: '{db_url}'\n"
        f"distributed:\n  redis_url: '{redis_server[0]}'\n  lease_seconds: {LEASE}\n"
        "crawl:\n  autothrottle: false\n"
        + ("match:\n  workers: 0\n" if _match_overrides() else ""),
        encoding="utf-8",
    )
    init_workspace(None, config=root / "config.yaml")
    config = root / "config.yaml"
    assert load_settings(config).distributed.lease_seconds == LEASE
    done = _cli(config, "register", str(works_dir), "--owner", "Jane Doe", "--json")
    assert done.returncode == 0, done.stderr
    logs = tmp_path / "logs"
    logs.mkdir()
    w = World(config=config, db_url=db_url, redis_url=redis_server[0], workers=[], logs=logs)
    try:
        yield w
    finally:
        for p in w.workers:
            if p.poll() is None:
                p.kill()
                p.wait()
        with admin.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        admin.dispose()


def _wait(what: str, check: Callable[[], bool], world: World, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{world.log_text()}")


def _enqueue(world: World, site: Site, *extra: str) -> str:
    done = world.cli(
        "crawl", site.base + "/p0.html", "--allow-private", "--distributed", *extra, "--json"
    )
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["status"] == "queued" and job["pages"] == 0
    return str(job["job_id"])


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def _done_pages(world: World, job: str) -> int:
    return int(
        world.sql("select count(*) from crawl_pages where job_id=:j and status='done'", j=job)[0][0]
    )


def _job(world: World, job: str) -> dict[str, Any]:
    listing = json.loads(world.cli("crawls", "--json").stdout)
    return next(j for j in listing if j["job_id"] == job)


def _page_hits(site: Site) -> Counter[str]:
    with site.lock:
        return Counter({p: n for p, n in site.hits.items() if p.startswith("/p")})


def test_workers_killed_mid_crawl_and_mid_seal_lose_and_duplicate_nothing(
    world: World, site: tuple[Site, dict[str, bytes]], reference: set[tuple[str, str, str]]
) -> None:
    s = site[0]
    before = _page_hits(s)
    job = _enqueue(world, s)
    victim = world.start_worker()
    for _ in range(2):
        world.start_worker()
    # Kill a worker while it holds pages in flight.
    _wait(
        "pages in flight",
        lambda: _done_pages(world, job) >= 6 and bool(_children(victim.pid)),
        world,
    )
    session = _children(victim.pid)  # its crawl session's process
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    # The pages it held (leased before fetching, released once done): fetched or in flight
    # when it died, whatever its concurrency, they may be fetched once more.
    held = world.sql(
        "select count(*) from crawl_leases l join crawl_workers w"
        " on w.worker_id = l.worker_id where w.pid = :p and l.job_id = :j",
        p=victim.pid,
        j=job,
    )[0][0]
    # The crawl session dies with its worker (it would otherwise crawl on, unleased).
    _wait("the session to die", lambda: not any(_alive(p) for p in session), world, 20)
    done_at_kill = {
        r[0]
        for r in world.sql("select url from crawl_pages where job_id=:j and status='done'", j=job)
    }
    world.start_worker()  # it comes back and picks up again
    # Kill a worker while it seals, during the crawl or after it (a worker seals while
    # its crawl session runs): the others take its claim when its heartbeat stops.
    sealer: list[subprocess.Popen[bytes]] = []

    def sealing() -> bool:
        running = {p.pid: p for p in world.workers if p.poll() is None}
        rows = world.sql("select pid from crawl_workers where activity like 'seal %'")
        sealer.extend(running[r[0]] for r in rows if r[0] in running)
        return bool(sealer)

    _wait("a worker sealing", sealing, world)
    sealer[0].send_signal(signal.SIGKILL)
    sealer[0].wait()
    # The pages it held if it was crawling too may be fetched once more, like the victim's.
    held += world.sql(
        "select count(*) from crawl_leases l join crawl_workers w"
        " on w.worker_id = l.worker_id where w.pid = :p and l.job_id = :j",
        p=sealer[0].pid,
        j=job,
    )[0][0]
    _wait("the crawl to finish", lambda: _job(world, job)["status"] == "finished", world)
    _wait(
        "every page sealed",
        lambda: (
            world.sql("select count(*) from seal_tasks where state in ('pending','claimed')")[0][0]
            == 0
            and world.sql("select count(*) from seal_tasks")[0][0] == len(COPIES)
        ),
        world,
        timeout=120,
    )
    codes = world.stop_all()
    assert codes.count(-signal.SIGKILL) == 2 and all(c in (0, -9) for c in codes), world.log_text()

    result = json.loads(world.cli("matches", "--job", job, "--json").stdout)
    assert {_key(m, s.base) for m in result} == reference
    assert len(result) == len(reference)  # no duplicated match
    failed = world.sql("select page_url, error from seal_tasks where state <> 'done'")
    assert failed == []
    bundles = world.sql("select bundle_id, page_url, ledger_index from evidence_bundles")
    assert sorted(b[1].removeprefix(s.base) for b in bundles) == sorted(
        f"/p{n}.html" for n in COPIES
    )  # one bundle per page
    assert all(m["bundle"] for m in result)
    entries = world.sql(
        "select leaf_index from ledger_entries where entry_type = 'evidence-bundle'"
    )
    # Every evidence entry belongs to a recorded bundle: none orphaned, none twice.
    assert sorted(e[0] for e in entries) == sorted(b[2] for b in bundles)
    # The crawl's fetches: sealing loads the pages with matches again in Chromium (once
    # per capture), so those pages are left out here (the Redis test counts every page).
    hits = _page_hits(s) - before
    for n in COPIES:
        hits.pop(f"/p{n}.html")
    assert set(hits) == {f"/p{n}.html" for n in range(PAGES) if n not in COPIES}
    # Pages done before the kill were never fetched again; only those a killed worker
    # held, at most once more each time (twice for a page both held).
    assert all(hits.get(u.removeprefix(s.base), 1) == 1 for u in done_at_kill), hits
    assert max(hits.values()) <= 3, hits
    assert sum(hits.values()) - len(hits) <= held, (held, hits)
    assert "started" in world.log_text()


def test_redis_restarted_mid_crawl_resumes_from_the_database(
    world: World,
    site: tuple[Site, dict[str, bytes]],
    reference: set[tuple[str, str, str]],
    redis_server: tuple[str, Callable[[], None]],
) -> None:
    s = site[0]
    before = _page_hits(s)
    job = _enqueue(world, s, "--no-capture")
    for _ in range(2):
        world.start_worker()
    _wait("pages done", lambda: _done_pages(world, job) >= 8, world)
    done_before = {
        r[0]
        for r in world.sql("select url from crawl_pages where job_id=:j and status='done'", j=job)
    }
    redis_server[1]()  # SIGKILL, 3 s down, then a fresh, empty Redis on the same port
    _wait("the crawl to finish", lambda: _job(world, job)["status"] == "finished", world)
    assert world.stop_all() == [0, 0], world.log_text()
    result = json.loads(world.cli("matches", "--job", job, "--json").stdout)
    assert {_key(m, s.base) for m in result} == reference
    assert len(result) == len(reference)
    hits = _page_hits(s) - before
    assert set(hits) == {f"/p{n}.html" for n in range(PAGES)}
    assert all(hits[u.removeprefix(s.base)] == 1 for u in done_before), hits
    assert "cannot reach redis" in world.log_text() or "redis unreachable" in world.log_text()
    summary = _job(world, job)
    assert summary["page_status"] == {"done": PAGES}


def _outage_worker(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """A worker that would exit after 1 s idle, its output in ``log``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    args = ["--config", str(config), "worker", "--exit-when-idle", "1", "--poll", "0.3"]
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "copyseal", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def _outlives_idle(p: subprocess.Popen[bytes], log: Path, says: str) -> list[str]:
    """Wait until the worker says ``says``, let it retry for several times its idle limit
    (1 s) and retry pause (2 s), check it is still running, then stop it; its lines."""
    deadline = time.monotonic() + 60
    while says not in log.read_text(errors="replace"):
        assert p.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, log.read_text(errors="replace")
        time.sleep(0.2)
    time.sleep(5.0)
    running = p.poll() is None
    p.send_signal(signal.SIGTERM)
    code = p.wait(timeout=30)
    text = log.read_text(errors="replace")
    assert running, text  # it did not exit "idle" while it could not reach a server
    assert code == 0, text
    assert "idle for" not in text, text
    return text.splitlines()


def test_a_worker_that_cannot_reach_its_database_says_so_once_and_is_never_idle(
    tmp_path: Path,
) -> None:
    closed = _free_port()  # nothing listens there
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database:\n  url: 'postgresql+psycopg://postgres@127.0.0.1:{closed}/x'\n"
        f"distributed:\n  redis_url: 'redis://127.0.0.1:{closed}/0'\n",
        encoding="utf-8",
    )
    log = tmp_path / "worker.log"
    lines = _outlives_idle(_outage_worker(config, log), log, "cannot connect")
    said = [line for line in lines if "cannot connect" in line]
    assert len(said) == 1 and said[0].startswith("worker: database ") and "retrying" in said[0]
    assert f"127.0.0.1:{closed}" in said[0]
    assert lines[-1] == "worker: SIGTERM: stopping"


def test_a_worker_that_cannot_reach_redis_says_so_once_and_is_never_idle(world: World) -> None:
    closed = _free_port()
    config = world.config.with_name("config-no-redis.yaml")
    config.write_text(
        world.config.read_text().replace(world.redis_url, f"redis://127.0.0.1:{closed}/0"),
        encoding="utf-8",
    )
    log = world.logs / "worker-no-redis.log"
    says = f"cannot reach redis at redis://127.0.0.1:{closed}/0 ("
    lines = _outlives_idle(_outage_worker(config, log), log, says)
    said = [line for line in lines if "cannot reach" in line]
    assert len(said) == 1 and said[0].startswith(f"worker: {says}"), lines
    assert said[0].endswith("; retrying")
    assert lines[-1] == "worker: SIGTERM: stopping"


@pytest.fixture
def gated_site(photos: dict[str, np.ndarray]) -> Iterator[tuple[Site, threading.Event]]:
    """Three pages: the home page links to one showing an edited copy of a registered
    work and to one whose response is held until the test sets the event."""
    site = Site()
    original = Image.fromarray(photos["astronaut"])
    w, h = original.size
    edited = original.crop((w // 10, h // 12, w - w // 9, h - h // 14))
    site.add("/g/copy.jpg", _jpeg(edited, 80), "image/jpeg")
    site.add("/g/other.jpg", _jpeg(Image.fromarray(photos["rocket"])), "image/jpeg")
    site.add(
        "/g/index.html",
        "<html><head><title>Home</title></head><body><img src='/g/other.jpg'>"
        "<a href='/g/copy.html'>copy</a> <a href='/g/held.html'>held</a></body></html>",
    )
    site.add(
        "/g/copy.html",
        "<html><head><title>Copy</title></head><body><img src='/g/copy.jpg' width='300'>"
        "</body></html>",
    )
    site.add("/g/held.html", "<html><head><title>Held</title></head><body>late</body></html>")
    gate = threading.Event()
    site.gates["/g/held.html"] = gate
    stop = serve(site)
    yield site, gate
    gate.set()
    stop()


def test_a_worker_seals_while_its_crawl_session_runs(
    world: World, gated_site: tuple[Site, threading.Event]
) -> None:
    site, gate = gated_site
    # Requests wait longer than the test holds the page (it is never a timeout).
    text = world.config.read_text()
    world.config.write_text(text.replace("crawl:\n", "crawl:\n  timeout: 300\n", 1))
    done = world.cli(
        "crawl", site.base + "/g/index.html", "--allow-private", "--distributed", "--json"
    )
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)["job_id"]
    worker = world.start_worker()
    held = f"{site.base}/g/held.html"

    def sealed() -> bool:
        return bool(world.sql("select 1 from evidence_bundles where job_id = :j", j=job))

    # The held page is in flight in the worker's crawl session the whole time: the page
    # with a match is captured and sealed during the session, not after it.
    _wait("the page with a match sealed", sealed, world, timeout=120)
    status = world.sql(
        "select status from crawl_pages where job_id = :j and url = :u", j=job, u=held
    )
    assert status == [("queued",)], status
    assert _job(world, job)["distributed"]["pages_in_flight"] == 1
    assert worker.poll() is None and _children(worker.pid)  # its crawl session runs
    gate.set()
    _wait("the crawl to finish", lambda: _job(world, job)["status"] == "finished", world)
    assert world.stop_all() == [0], world.log_text()
    bundles = world.sql("select page_url from evidence_bundles where job_id = :j", j=job)
    assert bundles == [(f"{site.base}/g/copy.html",)]
    tasks = world.sql("select page_url, state from seal_tasks where job_id = :j", j=job)
    assert tasks == [(f"{site.base}/g/copy.html", "done")]
    summary = _job(world, job)
    assert summary["page_status"] == {"done": 3}
    assert summary["distributed"]["seal_tasks"] == {
        "pending": 0,
        "claimed": 0,
        "done": 1,
        "failed": 0,
    }
