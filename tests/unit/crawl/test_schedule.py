from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from copyseal.config import CrawlSchedule, CrawlTarget, Settings, load_settings
from copyseal.crawl import (
    JobSpec,
    RunOutcome,
    Scheduler,
    next_run,
    plan_catch_up,
    schedule_states,
)
from copyseal.crawl._schedule import MAX_ATTEMPTS, MAX_MISSED_RECORDED
from copyseal.crawl._store import JobStore
from copyseal.db.schema.crawl import CrawlJob, CrawlPage, ScheduleRun
from copyseal.errors import ConfigError
from copyseal.pipeline import revisit_pages
from copyseal.registry import register_paths
from copyseal.workspace import Workspace


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type,misc]


# -- next runs and the catch-up policy (pure) ----------------------------------------------


def test_next_run_is_utc_and_handles_month_ends() -> None:
    assert next_run("0 3 * * *", utc(2026, 3, 29, 3, 0)) == utc(2026, 3, 30, 3, 0)
    assert next_run("0 0 31 * *", utc(2026, 1, 31, 0, 0)) == utc(2026, 3, 31)
    assert next_run("0 0 1 * *", utc(2026, 12, 31, 23, 59)) == utc(2027, 1, 1)
    assert next_run("0 0 29 2 *", utc(2026, 1, 1)) == utc(2028, 2, 29)


def test_catch_up_without_history_runs_the_latest_occurrence() -> None:
    plan = plan_catch_up("0 3 * * *", last_due=None, now=utc(2026, 5, 10, 12, 0))
    assert (plan.run, plan.missed) == (utc(2026, 5, 10, 3, 0), ())


def test_catch_up_runs_the_latest_missed_once_and_records_the_others() -> None:
    plan = plan_catch_up("0 3 * * *", last_due=utc(2026, 5, 7, 3), now=utc(2026, 5, 10, 12))
    assert plan.run == utc(2026, 5, 10, 3)
    assert plan.missed == (utc(2026, 5, 8, 3), utc(2026, 5, 9, 3))
    assert plan.dropped == 0


def test_catch_up_has_nothing_when_the_last_due_is_the_latest() -> None:
    plan = plan_catch_up("0 3 * * *", last_due=utc(2026, 5, 10, 3), now=utc(2026, 5, 11, 2, 59))
    assert plan.run is None and plan.missed == ()
    due = plan_catch_up("0 3 * * *", last_due=utc(2026, 5, 10, 3), now=utc(2026, 5, 11, 3, 0))
    assert due.run == utc(2026, 5, 11, 3)


def test_catch_up_bounds_what_it_records() -> None:
    plan = plan_catch_up("* * * * *", last_due=utc(2026, 5, 1), now=utc(2026, 5, 3))
    assert plan.run == utc(2026, 5, 3)
    assert len(plan.missed) == MAX_MISSED_RECORDED
    assert len(plan.missed) + plan.dropped + 1 == 2 * 24 * 60
    assert plan.missed[-1] == utc(2026, 5, 2, 23, 59)


# -- configuration -------------------------------------------------------------------------


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


_TARGETS = "crawl:\n  targets:\n    shop:\n      urls: [https://shop.example/]\n"


def test_schedules_are_read_from_config(tmp_path: Path) -> None:
    text = _TARGETS + (
        "  schedules:\n    nightly:\n      target: shop\n      cron: ' 0 3 * * * '\n"
        "      revisit_matches: true\n"
    )
    s = load_settings(_config(tmp_path, text), env={})
    nightly = s.crawl.schedules["nightly"]
    assert (nightly.target, nightly.cron, nightly.revisit_matches, nightly.enabled) == (
        "shop",
        "0 3 * * *",
        True,
        True,
    )


def test_bad_cron_names_key_and_value(tmp_path: Path) -> None:
    text = _TARGETS + "  schedules:\n    nightly:\n      target: shop\n      cron: '0 25 * * *'\n"
    with pytest.raises(ConfigError) as info:
        load_settings(_config(tmp_path, text), env={})
    message = str(info.value)
    assert "key 'crawl.schedules.nightly.cron' = \"0 25 * * *\"" in message
    assert "hour field: '25' is outside 0-23" in message and "\n" not in message


def test_unknown_target_names_key_and_value(tmp_path: Path) -> None:
    text = _TARGETS + "  schedules:\n    nightly:\n      target: shoop\n      cron: '@daily'\n"
    with pytest.raises(ConfigError) as info:
        load_settings(_config(tmp_path, text), env={})
    message = str(info.value)
    assert message.endswith(
        "key 'crawl.schedules.nightly.target' = \"shoop\": not a target under crawl.targets (shop)"
    )


# -- the scheduler on a database -----------------------------------------------------------


@dataclass
class FakeRunner:
    """Stands in for the child crawl process: records the jobs it was asked to run."""

    status: str = "finished"
    calls: list[str] = field(default_factory=list)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, job_id: str) -> RunOutcome:
        with self.lock:
            self.calls.append(job_id)
        if self.delay:
            threading.Event().wait(self.delay)
        return RunOutcome(status=self.status)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def configured(settings: Settings, **schedules: dict[str, Any]) -> Settings:
    crawl = settings.crawl.model_copy(
        update={
            "targets": {"site": CrawlTarget(urls=["http://127.0.0.1:9/"], allow_private=True)},
            "schedules": {
                name: CrawlSchedule(**{"target": "site", **values})
                for name, values in schedules.items()
            },
        }
    )
    return settings.model_copy(update={"crawl": crawl})


@pytest.fixture
def daily(workspace_settings: Settings) -> Iterator[Workspace]:
    ws = Workspace.open(configured(workspace_settings, daily={"cron": "0 3 * * *"}))
    yield ws
    ws.close()


def runs(ws: Workspace) -> list[tuple[str, str, str | None]]:
    with ws.engine.connect() as conn:
        rows = conn.execute(
            select(ScheduleRun.due_at, ScheduleRun.status, ScheduleRun.job_id).order_by(
                ScheduleRun.due_at
            )
        ).all()
    return [(d.replace(tzinfo=UTC).isoformat()[:16], s, j) for d, s, j in rows]


def job_count(ws: Workspace) -> int:
    with ws.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(CrawlJob)) or 0)


def test_a_due_run_runs_once_and_a_second_tick_does_nothing(daily: Workspace) -> None:
    runner = FakeRunner()
    clock = Clock(utc(2026, 5, 10, 12))
    first = Scheduler(daily, runner=runner, clock=clock).tick()
    assert [(r.schedule, r.status, r.due_at) for r in first] == [
        ("daily", "finished", utc(2026, 5, 10, 3))
    ]
    assert runner.calls == [first[0].job_id]
    again = Scheduler(daily, runner=runner, clock=clock).tick()
    assert again == [] and len(runner.calls) == 1 and job_count(daily) == 1


def test_restart_catches_up_the_latest_and_records_missed(daily: Workspace) -> None:
    runner = FakeRunner()
    clock = Clock(utc(2026, 5, 10, 12))
    Scheduler(daily, runner=runner, clock=clock).tick()
    clock.now = utc(2026, 5, 13, 4)  # down for three days
    handled = Scheduler(daily, runner=runner, clock=clock).tick()
    assert [r.due_at for r in handled] == [utc(2026, 5, 13, 3)]
    assert [(d, s) for d, s, _ in runs(daily)] == [
        ("2026-05-10T03:00", "finished"),
        ("2026-05-11T03:00", "missed"),
        ("2026-05-12T03:00", "missed"),
        ("2026-05-13T03:00", "finished"),
    ]
    assert len(runner.calls) == 2
    states = {s.name: s.to_json() for s in schedule_states(daily, now=clock.now)}
    assert states["daily"]["missed"] == 2
    assert states["daily"]["next_run"] == "2026-05-14T03:00:00+00:00"
    assert states["daily"]["due"] is False
    assert states["daily"]["last_run"]["job_id"] == runner.calls[-1]
    assert states["daily"]["last_run"]["status"] == "finished"


def test_schedule_list_shows_a_due_run_before_it_runs(daily: Workspace) -> None:
    (state,) = schedule_states(daily, now=utc(2026, 5, 10, 12))
    data = state.to_json()
    assert data["next_run"] == "2026-05-10T03:00:00+00:00" and data["due"] is True
    assert data["last_run"] is None and data["timezone"] == "UTC"


def test_two_concurrent_claimers_claim_once(workspace_settings: Settings) -> None:
    settings = configured(workspace_settings, daily={"cron": "0 3 * * *"})
    workspaces = [Workspace.open(settings), Workspace.open(settings)]
    try:
        for day in range(1, 6):
            due = utc(2026, 5, day, 3)
            barrier = threading.Barrier(2)
            won: list[object] = []

            def claim(
                ws: Workspace, due: datetime = due, barrier: Any = barrier, won: list[object] = won
            ) -> None:
                scheduler = Scheduler(ws, runner=FakeRunner())
                barrier.wait()
                won.append(scheduler.claim("daily", due))

            threads = [threading.Thread(target=claim, args=(ws,)) for ws in workspaces]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            assert sum(r is not None for r in won) == 1, f"day {day}: {won}"
        assert len(runs(workspaces[0])) == 5
        # The loser's job was rolled back with its claim: one job per run.
        assert job_count(workspaces[0]) == 5
    finally:
        for ws in workspaces:
            ws.close()


def test_two_concurrent_schedulers_run_a_due_run_once(workspace_settings: Settings) -> None:
    settings = configured(workspace_settings, daily={"cron": "0 3 * * *"})
    workspaces = [Workspace.open(settings), Workspace.open(settings)]
    runner = FakeRunner(delay=0.3)
    barrier = threading.Barrier(2)

    def tick(ws: Workspace) -> None:
        scheduler = Scheduler(ws, runner=runner, clock=Clock(utc(2026, 5, 10, 12)))
        barrier.wait()
        scheduler.tick()

    try:
        threads = [threading.Thread(target=tick, args=(ws,)) for ws in workspaces]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(runner.calls) == 1
        assert [s for _, s, _ in runs(workspaces[0])] == ["finished"]
    finally:
        for ws in workspaces:
            ws.close()


_CRASHING_SCHEDULER = """
import os, signal, sys
from pathlib import Path
from datetime import UTC, datetime
from copyseal.config import CrawlSchedule, CrawlTarget, load_settings
from copyseal.crawl import Scheduler
from copyseal.workspace import Workspace

settings = load_settings(Path(sys.argv[1]), env={})
crawl = settings.crawl.model_copy(update={
    "targets": {"site": CrawlTarget(urls=["http://127.0.0.1:9/"], allow_private=True)},
    "schedules": {"daily": CrawlSchedule(target="site", cron="0 3 * * *")},
})
ws = Workspace.open(settings.model_copy(update={"crawl": crawl}))

def crash(job_id):
    print(job_id, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # dies after claiming, before finishing

Scheduler(ws, runner=crash, clock=lambda: datetime(2026, 5, 10, 12, tzinfo=UTC)).tick()
"""


def test_restart_after_a_crash_resumes_the_same_job(daily: Workspace) -> None:
    assert daily.settings.source is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    crashed = subprocess.run(
        [sys.executable, "-c", _CRASHING_SCHEDULER, str(daily.settings.source)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert crashed.returncode == -9, crashed.stderr
    job_id = crashed.stdout.strip()
    assert runs(daily) == [("2026-05-10T03:00", "running", job_id)]
    runner = FakeRunner()
    handled = Scheduler(daily, runner=runner, clock=Clock(utc(2026, 5, 10, 12, 5))).tick()
    assert runner.calls == [job_id], "the claimed job was not resumed"
    assert [(r.status, r.job_id) for r in handled] == [("finished", job_id)]
    assert job_count(daily) == 1


def test_a_live_owners_run_is_not_taken_over(daily: Workspace) -> None:
    clock = Clock(utc(2026, 5, 10, 12))
    first = Scheduler(daily, runner=FakeRunner(), clock=clock)
    claimed = first.claim("daily", utc(2026, 5, 10, 3))
    assert claimed is not None and claimed.owner == first.owner
    runner = FakeRunner()
    assert Scheduler(daily, runner=runner, clock=clock).tick() == []
    assert runner.calls == [], "a run whose scheduler is alive was run again"
    # On another host only the heartbeat tells: a stale one is taken over.
    with daily.engine.begin() as conn:
        conn.execute(update(ScheduleRun).values(owner="elsewhere:1:1:x"))
    clock.now += timedelta(minutes=1)
    assert Scheduler(daily, runner=runner, clock=clock).tick() == []
    clock.now += timedelta(minutes=10)
    assert [r.job_id for r in Scheduler(daily, runner=runner, clock=clock).tick()] == [
        claimed.job_id
    ]


def test_a_stop_releases_the_run_and_the_next_scheduler_resumes_it(daily: Workspace) -> None:
    clock = Clock(utc(2026, 5, 10, 12))
    stop = threading.Event()

    def stopped(job_id: str) -> RunOutcome:
        stop.set()  # SIGTERM arrives while the crawl runs; it stops gracefully
        return RunOutcome(status="stopped")

    (released,) = Scheduler(daily, runner=stopped, stop=stop, clock=clock).tick()
    assert (released.status, released.owner) == ("running", None)
    runner = FakeRunner()
    (resumed,) = Scheduler(daily, runner=runner, clock=clock).tick()
    assert runner.calls == [released.job_id] and resumed.status == "finished"


def test_a_dying_job_is_retried_then_failed(daily: Workspace) -> None:
    clock = Clock(utc(2026, 5, 10, 12))
    runner = FakeRunner(status="interrupted")
    for _ in range(MAX_ATTEMPTS):
        Scheduler(daily, runner=runner, clock=clock).tick()
    assert len(set(runner.calls)) == 1 and len(runner.calls) == MAX_ATTEMPTS
    assert [s for _, s, _ in runs(daily)] == ["failed"]
    Scheduler(daily, runner=runner, clock=clock).tick()
    assert len(runner.calls) == MAX_ATTEMPTS


def test_disabled_schedules_never_run(workspace_settings: Settings) -> None:
    settings = configured(workspace_settings, off={"cron": "* * * * *", "enabled": False})
    ws = Workspace.open(settings)
    try:
        runner = FakeRunner()
        assert Scheduler(ws, runner=runner).tick() == [] and runner.calls == []
        assert schedule_states(ws)[0].to_json()["next_run"] is None
    finally:
        ws.close()


def test_revisit_queues_pages_of_earlier_matches(
    workspace_settings: Settings, photo_files: dict[str, Path]
) -> None:
    settings = configured(
        workspace_settings,
        plain={"cron": "0 3 * * *"},
        again={"cron": "0 4 * * *", "revisit_matches": True},
    )
    ws = Workspace.open(settings)
    try:
        (work,) = register_paths(ws, [photo_files["astronaut"]])
        store = JobStore(ws.engine)
        earlier = store.create_job(JobSpec(target="site", urls=("http://127.0.0.1:9/",)))
        other = store.create_job(JobSpec(target="cli", urls=("http://other.example/",)))
        for job, page in ((earlier, "http://127.0.0.1:9/deep/page.html"), (other, "http://o/")):
            store.record_image(
                job,
                page_url=page,
                image_url=page + "#img",
                sha256="ab" * 32,
                size=1,
                fmt="JPEG",
                status="ok",
                reason=None,
                outcome=[{"work_id": work.work_id, "score": 0.9}],  # type: ignore[union-attr]
                location={},
            )
        scheduler = Scheduler(ws, runner=FakeRunner(), revisit=partial(revisit_pages, ws))
        plain = scheduler.claim("plain", utc(2026, 5, 10, 3))
        again = scheduler.claim("again", utc(2026, 5, 10, 4))
        assert plain is not None and again is not None
        assert (plain.revisit_pages, again.revisit_pages) == (0, 1)
        assert again.job_id is not None and plain.job_id is not None
        with ws.engine.connect() as conn:
            queued = conn.execute(
                select(CrawlPage.url, CrawlPage.depth, CrawlPage.status).where(
                    CrawlPage.job_id == again.job_id
                )
            ).all()
        assert queued == [("http://127.0.0.1:9/deep/page.html", 0, "queued")]
        spec = store.spec(again.job_id)
        base = store.spec(plain.job_id)
        assert spec.max_pages == base.max_pages + 1  # on top of the target's limit
        assert spec.extra == {"schedule": "again", "due_at": "2026-05-10T04:00:00+00:00"}
        assert json.loads(store.job(again.job_id).spec)["target"] == "site"
    finally:
        ws.close()


def test_a_revisit_schedule_without_a_revisit_policy_fails_naming_it(
    workspace_settings: Settings,
) -> None:
    ws = Workspace.open(
        configured(workspace_settings, again={"cron": "0 4 * * *", "revisit_matches": True})
    )
    try:
        runner = FakeRunner()
        (run,) = Scheduler(ws, runner=runner, clock=Clock(utc(2026, 5, 10, 12))).tick()
        assert run.status == "failed" and run.job_id is None and runner.calls == []
        assert run.error is not None and "'again'" in run.error and "re-visit" in run.error
    finally:
        ws.close()
