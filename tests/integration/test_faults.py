"""Faults: the database restarted mid-crawl, the disk filling up during a seal, Chromium
killed mid-capture, the ledger's database locked by another writer.

Each must give a clear error, leave nothing half-written (no bundle folder, no staging,
no ledger entry), lose no match, and let the job resume. Real components only: a
PostgreSQL server of the test's own (``initdb`` + ``pg_ctl`` on a free port, never the
shared one), a small tmpfs as the evidence folder (the CI runs as root), Debian's
Chromium, SQLite held by a second connection in ``BEGIN EXCLUSIVE``.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import event

from copyseal.bundle import EvidenceFile, verify_bundle, write_bundle
from copyseal.errors import BundleError, LedgerError
from copyseal.netpolicy import AddressPolicy
from copyseal.pipeline import capture_and_seal, seal_pending
from copyseal.registry import WorkRecord, register_paths
from copyseal.storage import Area
from copyseal.workspace import Workspace, init_workspace

PG_BIN = Path("/usr/lib/postgresql/15/bin")


# -- a local site ---------------------------------------------------------------------


class _Site(http.server.SimpleHTTPRequestHandler):
    """Static files; pages under /slow/ answer after ``delay`` seconds, and each path
    served is counted (``hits``) and announced (``seen``)."""

    delay = 0.0
    hits: dict[str, int]
    seen: threading.Event

    def do_GET(self) -> None:
        type(self).hits[self.path] = type(self).hits.get(self.path, 0) + 1
        if self.path.startswith("/slow/"):
            type(self).seen.set()
            time.sleep(type(self).delay)
            self.path = self.path.removeprefix("/slow")
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


PAGES = 8  # pages p0..p7, chained by links; the even ones show the registered work


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, photos: dict[str, np.ndarray]
) -> Iterator[tuple[str, type[_Site], Path]]:
    """``(base URL, handler class, folder of the work to register)``."""
    root = tmp_path_factory.mktemp("fault-site")
    works, www = root / "works", root / "www"
    works.mkdir()
    www.mkdir()
    Image.fromarray(photos["astronaut"]).save(works / "astronaut.jpg", quality=92)
    copy = Image.fromarray(photos["astronaut"]).resize((384, 384))
    copy.save(www / "copy.jpg", quality=80)
    Image.fromarray(photos["chelsea"]).save(www / "cat.jpg", quality=85)
    for n in range(PAGES):
        img = "copy.jpg" if n % 2 == 0 else "cat.jpg"
        nxt = f"<a href='p{n + 1}.html'>next</a>" if n + 1 < PAGES else ""
        (www / f"p{n}.html").write_text(
            f"<html><head><title>Page {n}</title></head><body><h1>Page {n}</h1>"
            f"<img src='/{img}?page={n}' width='384'>{nxt}</body></html>"
        )
    handler = type("Handler", (_Site,), {"hits": {}, "seen": threading.Event()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler, works
    server.shutdown()
    server.server_close()


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the ledger's database locked by another writer ------------------------------------


def test_a_locked_ledger_waits_then_fails_clearly_and_the_next_append_works(
    tmp_path: Path,
) -> None:
    ws = Workspace.open(init_workspace(tmp_path / "ws"))
    try:
        ledger = ws.ledger()
        ledger.append([("test", b"before")])

        # The workspace waits 30 s for a lock (PRAGMA busy_timeout); 1.5 s keeps this short.
        @event.listens_for(ws.engine, "connect")
        def _short_wait(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA busy_timeout=1500")

        ws.engine.dispose()
        other = sqlite3.connect(ws.settings.database.url.removeprefix("sqlite:///"))
        other.isolation_level = None
        other.execute("BEGIN EXCLUSIVE")
        bundles = ws.store.folder(Area.BUNDLES)
        try:
            started = time.monotonic()
            with pytest.raises(
                LedgerError, match=r"cannot append to the ledger.*locked.*nothing was written"
            ):
                ledger.append([("test", b"while locked")])
            assert time.monotonic() - started >= 1.4  # it waited for the lock first
            # A seal meanwhile fails as a whole: no bundle folder, no staging left behind.
            with pytest.raises(BundleError, match=r"cannot seal bundle .*locked"):
                write_bundle(
                    root=bundles,
                    url="http://127.0.0.1:8000/p.html",
                    captured_at=datetime(2026, 12, 5, 12, 0, tzinfo=UTC),
                    files=[EvidenceFile(name="page/raw.html", media_type="text/html", data=b"<p>")],
                    match=None,
                    capture={"status": 200},
                    signing_key=ws.signing_key(),
                    ledger=ledger,
                )
            assert list(bundles.iterdir()) == []
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert ledger.size() == 1  # nothing half-appended
        assert ledger.append([("test", b"after")]) == [1]  # the next run works
        entries = [ledger.entry(i).data for i in range(ledger.size())]
        assert entries == [b"before", b"after"]  # no duplicate, no loss
        assert ledger.audit().ok
    finally:
        ws.close()


# -- PostgreSQL restarted mid-crawl ---------------------------------------------------


class _Postgres:
    """A throwaway PostgreSQL server in a folder of its own, on a free loopback port."""

    def __init__(self, root: Path) -> None:
        self.root, self.data, self.port = root, root / "data", _free_port()
        shutil.chown(root, "postgres", "postgres")
        self._as_postgres(PG_BIN / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres",
                          "--no-sync", "-E", "UTF8")  # fmt: skip
        self.start()

    def _as_postgres(self, *cmd: object) -> None:
        # initdb and postgres refuse to run as root: the CI runs as root, so drop to the
        # postgres user that Debian's package creates.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *map(str, cmd)], check=True, capture_output=True, timeout=120)

    def _ctl(self, *args: str) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-o", opts, "-l",
                          self.root / "log", "-w", *args)  # fmt: skip

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")  # every session is terminated

    def stop(self) -> None:
        self._ctl("stop", "-m", "immediate")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create(self, database: str) -> str:
        self._as_postgres(PG_BIN / "createdb", "-h", "127.0.0.1", "-p", self.port, "-U",
                          "postgres", database)  # fmt: skip
        return self.url(database)


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Postgres]:
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL server binaries not found in {PG_BIN}")
    # Not under pytest's temporary folder: that is root's, mode 0700, and the server runs
    # as the postgres user.
    root = Path(tempfile.mkdtemp(prefix="copyseal-faults-pg-"))
    try:
        server = _Postgres(root)
        yield server
        server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _pg_workspace(root: Path, url: str, works: Path) -> Path:
    root.mkdir(parents=True)
    config = root / "config.yaml"
    config.write_text(f"database:\n  url: '{url}'\n", encoding="utf-8")
    ws = Workspace.open(init_workspace(None, config=config))
    try:
        [record] = list(register_paths(ws, [works]))
        assert isinstance(record, WorkRecord), record
    finally:
        ws.close()
    return config


def _crawl_args(base: str) -> list[str]:
    return ["--set", "crawl.autothrottle=false", "crawl", f"{base}/slow/p0.html", "--depth",
            "20", "--allow-private", "--no-capture", "--no-progress", "--json"]  # fmt: skip


def _matches(result: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m["page_url"], m["image_url"]) for m in result["matches"]}


def test_match_workers_started_while_postgres_is_down_wait_for_it(
    tmp_path: Path,
    postgres: _Postgres,
    site: tuple[str, type[_Site], Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A crawl's match workers start at its first fetches; when the database is down then
    (a restart), each says so in one line and is started again once it is back, and the
    image given to it meanwhile is matched, not failed (a failed one is not matched again
    on a resume). The same when it goes down while they run (the matcher reads it per
    image: exact copies, fingerprints)."""
    from copyseal.config import load_settings
    from copyseal.registry import build_matcher, list_works
    from copyseal.registry.pool import MatchPool

    _, _, works = site
    config = _pg_workspace(tmp_path / "ws", postgres.create("workers_wait"), works)
    copy = (works.parent / "www" / "copy.jpg").read_bytes()
    ws = Workspace.open(load_settings(config))
    try:
        [work_id] = [r.work_id for r in list_works(ws)]
        build_matcher(ws.engine, ws.settings)  # the index cache, as the crawl's parent writes it
        ws.engine.dispose()
        postgres.stop()
        try:
            with MatchPool(
                factory=build_matcher, settings=ws.settings, workers=1, timeout=90
            ) as pool:
                future = pool.submit(copy)
                time.sleep(4.0)  # every start so far failed
                assert not future.done()
                postgres.start()
                outcome = future.result(timeout=120)
                postgres.stop()  # now with the worker running
                future = pool.submit(copy)
                time.sleep(4.0)
                assert not future.done()
                postgres.start()
                again = future.result(timeout=120)
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):
                postgres.start()  # already running unless the test failed before
    finally:
        ws.close()
    for result in (outcome, again):
        assert isinstance(result, list), result
        assert len(result) == 1 and result[0]["work_id"] == work_id
    said = [r.getMessage() for r in caplog.records if "cannot reach the database" in r.getMessage()]
    assert "starting it again" in said[0]
    assert any("the image is matched again" in m for m in said)


def test_the_in_process_matcher_waits_for_postgres_too(
    tmp_path: Path, postgres: _Postgres, site: tuple[str, type[_Site], Path]
) -> None:
    """``match.workers: 0`` (matching on the crawl's own thread): an image matched while
    the database is down is matched again once it is back."""
    from types import SimpleNamespace

    from copyseal.config import load_settings
    from copyseal.crawl._pipelines import MatchPipeline
    from copyseal.registry import build_matcher, list_works

    _, _, works = site
    config = _pg_workspace(tmp_path / "ws", postgres.create("in_process_wait"), works)
    copy = (works.parent / "www" / "copy.jpg").read_bytes()
    ws = Workspace.open(load_settings(config))
    settings = ws.settings.model_copy(
        update={"match": ws.settings.match.model_copy(update={"workers": 0})}
    )
    ctx = SimpleNamespace(store=SimpleNamespace(engine=ws.engine), settings=settings)
    pipeline = MatchPipeline(ctx, build_matcher)  # type: ignore[arg-type]
    outcome: list[Any] = []
    try:
        [work_id] = [r.work_id for r in list_works(ws)]
        pipeline.open_spider()
        assert pipeline.pool is None
        postgres.stop()
        try:
            thread = threading.Thread(target=lambda: outcome.append(pipeline._match(copy)))
            thread.start()
            time.sleep(3.0)
            assert thread.is_alive() and not outcome
            postgres.start()
            thread.join(120)
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):
                postgres.start()
    finally:
        pipeline.close_spider()
        ws.close()
    [result] = outcome
    assert isinstance(result, list) and [m["work_id"] for m in result] == [work_id]


def test_postgres_restarted_mid_crawl_then_resume_finds_every_match(
    tmp_path: Path, postgres: _Postgres, site: tuple[str, type[_Site], Path]
) -> None:
    base, handler, works = site
    # Pages are reached through /slow/ (0.3 s each) so that the restart lands mid-crawl.
    handler.delay = 0.3
    # What an uninterrupted crawl of this site finds (checked once against a real one; a
    # second crawl here would double this test's time): the copy on every even page.
    expected = {(f"{base}/slow/p{n}.html", f"{base}/copy.jpg?page={n}") for n in range(0, PAGES, 2)}

    config = _pg_workspace(tmp_path / "faulty", postgres.create("faulty"), works)
    handler.seen.clear()
    crawl = subprocess.Popen(
        [sys.executable, "-m", "copyseal", "--config", str(config), *_crawl_args(base)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")},
    )
    try:
        assert handler.seen.wait(60), "the crawl never reached the site"
        time.sleep(1.0)  # a few pages in
        postgres.restart()
        out, err = crawl.communicate(timeout=180)
    finally:
        if crawl.poll() is None:
            crawl.kill()
    # The crawl rides through (its pool reconnects) or stops early; either way it says so:
    # an exit code and a message, or a summary with the errors counted and pages left.
    resumed: dict[str, Any] | None = None
    if crawl.returncode != 0:
        assert "database" in err.lower() or "postgres" in err.lower(), err[-2000:]
        job_id = _job_of(config)
    else:
        first = json.loads(out)
        job_id = first["job_id"]
        if first["status"] == "finished":
            resumed = first  # rode through the restart: nothing to resume
        else:
            assert first["page_status"].get("queued", 0) > 0
            assert first["stats"].get("log_count/ERROR", 0) > 0, first["stats"]
            # Said on stderr too, with the way on (--json keeps stdout one document).
            assert f"copyseal crawl --resume {job_id}" in err, err[-2000:]
    if resumed is None:
        done = _cli(config, "crawl", "--resume", job_id, "--no-capture", "--json")
        assert done.returncode == 0, done.stderr[-2000:]
        resumed = json.loads(done.stdout)
    assert resumed["status"] == "finished"
    assert _matches(resumed) == expected  # no match lost
    assert len(resumed["matches"]) == len(expected)  # and none stored twice
    assert resumed["page_status"] == {"done": PAGES}


def _job_of(config: Path) -> str:
    jobs = json.loads(_cli(config, "jobs", "--json").stdout)
    [job] = jobs
    return str(job["job_id"])


# -- a workspace whose evidence folder is a small tmpfs -------------------------------


def _mounted(path: Path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


@pytest.fixture(scope="module")
def sealing(
    tmp_path_factory: pytest.TempPathFactory, site: tuple[str, type[_Site], Path]
) -> Iterator[tuple[Workspace, str]]:
    """A workspace on SQLite whose evidence folder is a 24 MiB tmpfs, and a crawl job in it
    whose one match is not sealed yet: ``(workspace, job id)``."""
    base, _, works = site
    root = tmp_path_factory.mktemp("sealing")
    evidence = root / "evidence"
    evidence.mkdir()
    if not _mounted(evidence, "24m"):
        pytest.skip("needs root to mount a tmpfs (the disk-full fault)")
    try:
        config = root / "config.yaml"
        config.write_text(f"workspace:\n  evidence_dir: '{evidence}'\n", encoding="utf-8")
        ws = Workspace.open(init_workspace(None, config=config))
        [record] = list(register_paths(ws, [works]))
        assert isinstance(record, WorkRecord), record
        done = _cli(config, "--set", "crawl.autothrottle=false", "crawl", f"{base}/p0.html",
                    "--max-pages", "1", "--allow-private", "--no-capture", "--json")  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        result = json.loads(done.stdout)
        assert [m["bundle"] for m in result["matches"]] == [None]
        yield ws, result["job_id"]
        ws.close()
    finally:
        subprocess.run(["umount", "-l", str(evidence)], check=False)


def _left_behind(ws: Workspace) -> list[str]:
    """Anything a failed seal could leave: bundle folders (also hidden staging and
    ``.failed-`` ones) and capture scratch folders."""
    found = []
    for area in (Area.BUNDLES, Area.CAPTURES):
        folder = ws.store.folder(area)
        if folder.exists():
            found += [f"{area.name}/{p.name}" for p in folder.iterdir()]
    return sorted(found)


def _failures(ws: Workspace) -> list[tuple[str, str]]:
    with ws.engine.connect() as conn:
        rows = conn.exec_driver_sql("select page_url, error from capture_failures").fetchall()
    return [(str(u), str(e)) for u, e in rows]


def test_a_full_disk_fails_the_seal_cleanly_and_seal_pending_completes_later(
    sealing: tuple[Workspace, str], site: tuple[str, type[_Site], Path]
) -> None:
    ws, job_id = sealing
    base = site[0]
    evidence = ws.settings.workspace.evidence_dir
    size = ws.ledger().size()
    stat = os.statvfs(evidence)
    filler = evidence / "filler"
    filler.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - 256 * 1024))  # 256 KiB left
    try:
        [outcome] = seal_pending(ws, job_id)
        assert outcome.bundle is None
        assert outcome.error is not None and "No space left on device" in outcome.error
        assert _left_behind(ws) == []  # no partial bundle, no staging, no scratch
        assert ws.ledger().size() == size  # no ledger entry
        assert (f"{base}/p0.html", outcome.error) in _failures(ws)
        # The bundle writer itself, out of space while copying the evidence in: the
        # staging folder is discarded and the ledger is not touched.
        with pytest.raises(BundleError, match="No space left on device"):
            write_bundle(
                root=ws.store.folder(Area.BUNDLES),
                url=f"{base}/p0.html",
                captured_at=datetime(2026, 12, 5, 12, 0, tzinfo=UTC),
                files=[
                    EvidenceFile(
                        name="page/big.bin",
                        media_type="application/octet-stream",
                        data=os.urandom(1 << 20),
                    )
                ],
                match=None,
                capture={"status": 200},
                signing_key=ws.signing_key(),
                ledger=ws.ledger(),
            )
        assert _left_behind(ws) == []
        assert ws.ledger().size() == size
    finally:
        filler.unlink()
    # Space freed: the match was not lost, and sealing the job's pending pages completes.
    [outcome] = seal_pending(ws, job_id)
    assert outcome.error is None and outcome.bundle is not None, outcome
    assert ws.ledger().size() == size + 1
    assert verify_bundle(outcome.bundle.path, vkey=ws.ledger().vkey()).ok
    assert seal_pending(ws, job_id) == []  # nothing pending any more


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _kill_browser() -> int:
    """SIGKILL every Chromium process this test process started; how many were killed."""
    killed = 0
    for pid in _descendants(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"chrom" in cmdline.split(b"\0", 1)[0]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
    return killed


def test_chromium_killed_mid_capture_fails_cleanly_and_a_retry_succeeds(
    sealing: tuple[Workspace, str], site: tuple[str, type[_Site], Path]
) -> None:
    ws, _ = sealing
    base, handler, _ = site
    size = ws.ledger().size()
    before = _left_behind(ws)
    handler.delay = 8.0  # the page loads slowly: the browser is killed while it waits
    handler.seen.clear()
    killed: list[int] = []

    def killer() -> None:
        if handler.seen.wait(60):
            time.sleep(0.5)
            killed.append(_kill_browser())

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    policy = AddressPolicy.build(allow_private=True)
    url = f"{base}/slow/p2.html"
    outcome = capture_and_seal(ws, url, policy=policy)
    thread.join(30)
    assert killed and killed[0] > 0
    assert outcome.bundle is None and outcome.error, outcome
    assert url in outcome.error  # names the page
    assert _left_behind(ws) == before  # nothing half-written
    assert ws.ledger().size() == size
    assert any(u == url for u, _ in _failures(ws))
    handler.delay = 0.0
    retry = capture_and_seal(ws, url, policy=policy)
    assert retry.error is None and retry.bundle is not None, retry
    assert ws.ledger().size() == size + 1
    assert verify_bundle(retry.bundle.path, vkey=ws.ledger().vkey()).ok
