"""Scheduled jobs run in a child process the pipeline starts (not the command line): it
crawls the job, reports its errors, stops gracefully on request and resumes later."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import yaml
from pipeline_bench import Bench, jpeg, make_bench

from copyseal.config import CrawlSchedule, CrawlTarget, Settings
from copyseal.crawl import JobSpec, RunOutcome, crawl_summary, spec_for
from copyseal.crawl._store import JobStore
from copyseal.pipeline import ChildLaunch, ProcessJobRunner, ScheduledCrawls
from copyseal.workspace import Workspace
from integration.crawl_site import Site, serve

pytestmark = pytest.mark.usefixtures("clean_env")

_NO_CAPTURE = ("capture.on_match=false",)


def launch_of(bench: Bench) -> ChildLaunch:
    return ChildLaunch(config_path=bench.config, overrides=bench.overrides)


class ChildWatch:
    """Records the child process of a runner while it runs: its name and command line."""

    def __init__(self, runner: ProcessJobRunner) -> None:
        self.runner = runner
        self.seen: list[tuple[str, list[str]]] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.done.is_set():
            process = self.runner.process
            if process is not None and process.pid is not None and not self.seen:
                try:
                    raw = Path(f"/proc/{process.pid}/cmdline").read_bytes()
                except OSError:
                    raw = b""
                if b"python" in raw:  # exec'd (before that, the cmdline is the parent's or "")
                    self.seen.append((process.name, raw.decode().split("\0")))
            time.sleep(0.01)

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def test_the_scheduler_runs_a_due_job_in_a_child_process_not_the_cli(
    gallery: tuple[Site, dict[str, bytes]], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    site, works = gallery
    bench = make_bench(tmp_path / "ws", works, overrides=_NO_CAPTURE)
    data = yaml.safe_load(bench.config.read_text(encoding="utf-8"))
    data["crawl"]["targets"] = {"gallery": {"urls": [site.base + "/"], "allow_private": True}}
    data["crawl"]["schedules"] = {"yearly": {"target": "gallery", "cron": "0 0 1 1 *"}}
    bench.config.write_text(yaml.safe_dump(data), encoding="utf-8")
    ws = bench.open()
    try:
        service = ScheduledCrawls(ws, launch=launch_of(bench))
        watch = ChildWatch(service.runner)
        try:
            (run,) = service.run(once=True)
        finally:
            watch.stop()
        assert (run.schedule, run.status, run.error) == ("yearly", "finished", None)
        assert run.job_id is not None
        summary = crawl_summary(ws, run.job_id)
        assert summary.status == "finished" and summary.counts["matches"]["total"] == 2
        ((name, argv),) = watch.seen
        assert name == f"copyseal-crawl-{run.job_id}"
        command = " ".join(argv)
        assert "multiprocessing" in command and "spawn_main" in command, argv
        # Not the command line: no `-m copyseal`, no `copyseal` script, no `crawl --resume`
        # (the interpreter's own path may contain "copyseal": the checkout's folder name).
        assert "-m" not in argv and "--resume" not in argv and "crawl" not in argv, argv
        assert not any(Path(a).name == "copyseal" for a in argv), argv
        assert service.runner.process is None
        # The child's stdout is not the parent's: one JSON document may be printed there.
        assert capfd.readouterr().out == ""
    finally:
        ws.close()


def test_a_failing_child_reports_its_error(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    bench = make_bench(tmp_path / "ws", {}, overrides=_NO_CAPTURE)
    ws = bench.open()
    try:
        spec = JobSpec(target="cli", urls=("http://127.0.0.1:9/",), spider="nope")
        job_id = JobStore(ws.engine).create_job(spec)
        outcome = ProcessJobRunner(ws, launch=launch_of(bench))(job_id)
        assert outcome.status == "created"
        assert outcome.error is not None and "no spider named 'nope'" in outcome.error
        err = capfd.readouterr().err
        assert f"error: crawl {job_id}: no spider named 'nope'" in err
    finally:
        ws.close()


def delayed(site: Site) -> int:
    """How many of the slow pages were requested so far."""
    with site.lock:
        return sum(n for path, n in site.hits.items() if path.startswith("/p"))


def test_a_stop_ends_the_child_crawl_gracefully_and_the_job_resumes_later(
    photos: dict[str, np.ndarray], tmp_path: Path
) -> None:
    site = Site()
    links = "".join(f"<a href='/p{n}.html'>{n}</a>" for n in range(8))
    site.add("/", f"<html><body><img src='/img/a.jpg'>{links}</body></html>")
    site.add("/img/a.jpg", jpeg(photos["astronaut"]), "image/jpeg")
    for n in range(8):
        site.add(f"/p{n}.html", f"<html><body><p>page {n}</p></body></html>")
        site.delays[f"/p{n}.html"] = 1.0
    stop_site = serve(site)
    serial = ("crawl.concurrency=1", "crawl.per_domain_concurrency=1")
    bench = make_bench(tmp_path / "ws", {}, overrides=(*_NO_CAPTURE, *serial))
    ws = bench.open()
    try:
        spec = spec_for(ws.settings, (site.base + "/",), allow_private=True)
        job_id = JobStore(ws.engine).create_job(spec)
        runner = ProcessJobRunner(ws, launch=launch_of(bench))
        outcomes: list[RunOutcome] = []
        thread = threading.Thread(target=lambda: outcomes.append(runner(job_id)))
        started = time.monotonic()
        thread.start()
        deadline = started + 60
        while time.monotonic() < deadline and not delayed(site):
            time.sleep(0.05)
        assert delayed(site) == 1, "the crawl never reached the delayed pages"
        runner.interrupt()
        asked = time.monotonic()
        thread.join(60)
        assert not thread.is_alive()
        (outcome,) = outcomes
        assert (outcome.status, outcome.error) == ("stopped", None)
        assert time.monotonic() - asked < 5, "the crawl did not stop early"
        pages = crawl_summary(ws, job_id).counts["pages"]
        assert pages.get("queued", 0) > 0, pages
        # An interrupted runner starts nothing more; the next one resumes the job.
        assert runner(job_id) == RunOutcome(status="stopped") and runner.process is None
        done = ProcessJobRunner(ws, launch=launch_of(bench))(job_id)
        assert (done.status, done.error) == ("finished", None)
        assert site.hits["/"] == 1, "a page done before the stop was fetched again"
        assert all(site.hits[f"/p{n}.html"] >= 1 for n in range(8))
    finally:
        ws.close()
        stop_site()


def test_scheduled_crawls_bring_the_pipelines_revisit_policy(
    workspace_settings: Settings,
) -> None:
    crawl = workspace_settings.crawl.model_copy(
        update={
            "targets": {"site": CrawlTarget(urls=["http://127.0.0.1:9/"], allow_private=True)},
            "schedules": {
                "again": CrawlSchedule(target="site", cron="0 4 * * *", revisit_matches=True)
            },
        }
    )
    ws = Workspace.open(workspace_settings.model_copy(update={"crawl": crawl}))
    try:
        service = ScheduledCrawls(ws, launch=ChildLaunch(config_path=ws.settings.source))
        run = service.scheduler.claim("again", datetime(2026, 5, 10, 4, tzinfo=UTC))
        assert run is not None and (run.status, run.error) == ("running", None)
        assert run.job_id is not None and run.revisit_pages == 0
    finally:
        ws.close()


@pytest.mark.parametrize("parent_sigint", ["default", "ignored"])
def test_a_stop_that_arrives_while_the_child_starts_is_not_lost(
    photos: dict[str, np.ndarray],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    parent_sigint: str,
) -> None:
    """A stop handled after the child started but before the runner knew it (a signal
    delivered to another thread runs its handler then) still reaches the child: also when
    the child is the first process this one starts (multiprocessing's resource tracker,
    started with it, unblocks SIGINT), and when this process ignores SIGINT (started in
    the background by a non-interactive shell), which the child would inherit."""
    import multiprocessing.context
    import signal
    from multiprocessing import resource_tracker

    # The tracker stopped: the runner's child is the first process started from here on.
    stop_tracker = getattr(resource_tracker._resource_tracker, "_stop", None)
    if stop_tracker is not None:
        stop_tracker()
    previous = signal.getsignal(signal.SIGINT)

    site = Site()
    links = "".join(f"<a href='/p{n}.html'>{n}</a>" for n in range(8))
    site.add("/", f"<html><body>{links}</body></html>")
    for n in range(8):
        site.add(f"/p{n}.html", f"<html><body><p>page {n}</p></body></html>")
        site.delays[f"/p{n}.html"] = 1.0
    stop_site = serve(site)
    serial = ("crawl.concurrency=1", "crawl.per_domain_concurrency=1")
    bench = make_bench(tmp_path / "ws", {}, overrides=(*_NO_CAPTURE, *serial))
    ws = bench.open()
    try:
        if parent_sigint == "ignored":
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        job_id = JobStore(ws.engine).create_job(
            spec_for(ws.settings, (site.base + "/",), allow_private=True)
        )
        runner = ProcessJobRunner(ws, launch=launch_of(bench))
        real_start = multiprocessing.context.SpawnProcess.start

        def start_then_stop(process: multiprocessing.context.SpawnProcess) -> None:
            real_start(process)
            assert runner.process is None  # the window: started, not yet known
            runner.interrupt()

        monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", start_then_stop)
        started = time.monotonic()
        outcome = runner(job_id)
        # Stopped before or while the crawl started: no error, nothing crawled to its end.
        assert outcome.error is None and outcome.status in ("created", "stopped")
        assert time.monotonic() - started < 30
        assert sum(site.hits.values()) <= 2  # the start page and at most one more
        done = ProcessJobRunner(ws, launch=launch_of(bench))(job_id)
        assert (done.status, done.error) == ("finished", None)
    finally:
        if previous is not None:  # None: a handler not set from Python, left as it is
            signal.signal(signal.SIGINT, previous)
        ws.close()
        stop_site()
