"""The scheduler: claims each due occurrence of a schedule once and runs its crawl job.

The policy (exactly once, catch-up, re-visit, take-over of a dead owner's run) is
described in :mod:`copyseal.crawl._schedule`, which holds the pure parts and the records.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from copyseal import times
from copyseal.config import CrawlSchedule, Settings
from copyseal.crawl._jobs import CrawlSummary
from copyseal.crawl._schedule import (
    _UNDONE,
    _UNFINISHED,
    HEARTBEAT_SECONDS,
    MAX_ATTEMPTS,
    STALE_AFTER,
    JobRunner,
    RevisitPolicy,
    RunOutcome,
    RunRecord,
    _last_due,
    _runs,
    plan_catch_up,
)
from copyseal.crawl._spec import JobSpec, spec_for
from copyseal.crawl._store import JobStore, new_job_id, url_key
from copyseal.crawl._targets import effective_settings
from copyseal.db.schema.crawl import CrawlPage, ScheduleRun
from copyseal.db.sql import insert_or_ignore
from copyseal.errors import CopysealError, CrawlError
from copyseal.workspace import Workspace

__all__ = ["Scheduler"]

log = logging.getLogger(__name__)


def _process_start(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot, from ``/proc``), or "" where
    that is unknown (no ``/proc``, or no such process). With the pid it names a process
    uniquely: a restarted container reuses pids, never start times."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rpartition(")")[2].split()[19]


def _pid_alive(pid: int, start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not start or _process_start(pid) in ("", start)


class Scheduler:
    """Runs the due occurrences of the configured, enabled schedules, one at a time.

    Args:
        workspace: The workspace (its settings hold ``crawl.schedules``).
        runner: Runs a crawl job to its end (see :data:`JobRunner`).
        stop: Set to stop: no new run starts, a run in progress is released (the runner
            is expected to stop its job gracefully; the next scheduler resumes it).
        clock: Returns the current time (UTC); tests pass a fixed one.
        on_run: Called with each run's record when it ends or is released.
        revisit: The pages a schedule with ``revisit_matches`` crawls again, given its
            target (:func:`copyseal.pipeline.revisit_pages` is the pipeline's policy).
            Without one, claiming such a schedule's run fails, naming the schedule.
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        runner: JobRunner,
        stop: threading.Event | None = None,
        clock: Callable[[], datetime] = times.now,
        on_run: Callable[[RunRecord], None] | None = None,
        revisit: RevisitPolicy | None = None,
    ) -> None:
        self.workspace = workspace
        self.engine = workspace.engine
        self.runner = runner
        self.stop = stop or threading.Event()
        self.clock = clock
        self.on_run = on_run
        self.revisit = revisit
        self.host = socket.gethostname()
        pid = os.getpid()
        #: Who runs a claimed run: ``host:pid:process start:random token``.
        self.owner = f"{self.host}:{pid}:{_process_start(pid)}:{uuid.uuid4().hex[:12]}"

    @property
    def settings(self) -> Settings:
        """The settings with the database targets' schedules (read again at each use, so
        a schedule changed in the review app applies at the next tick)."""
        return effective_settings(self.workspace)

    def _schedules(self) -> dict[str, CrawlSchedule]:
        return {n: s for n, s in self.settings.crawl.schedules.items() if s.enabled}

    # -- ownership -----------------------------------------------------------------------

    def _stale(self, run: RunRecord, now: datetime) -> bool:
        if run.owner is None:
            return True  # released by a clean shutdown
        if run.owner == self.owner:
            return False
        host, pid_text, start, _token = [*run.owner.split(":"), "", "", ""][:4]
        if host == self.host and pid_text.isdigit():
            return not _pid_alive(int(pid_text), start)
        beat = run.heartbeat_at or run.claimed_at
        return now - beat > STALE_AFTER

    def _take_over(self, run: RunRecord, now: datetime) -> RunRecord | None:
        """Compare-and-set the owner: exactly one scheduler wins a stale run."""
        owner_is = (
            ScheduleRun.owner.is_(None) if run.owner is None else ScheduleRun.owner == run.owner
        )
        with self.engine.begin() as conn:
            done = conn.execute(
                update(ScheduleRun)
                .where(ScheduleRun.id == run.run_id, ScheduleRun.status == _UNFINISHED, owner_is)
                .values(owner=self.owner, heartbeat_at=now)
            )
            if done.rowcount != 1:
                return None
            row = conn.execute(select(ScheduleRun).where(ScheduleRun.id == run.run_id)).one()
        return RunRecord.from_row(row)

    # -- claiming ------------------------------------------------------------------------

    def _revisit_pages(self, name: str, target: str) -> list[str]:
        if self.revisit is None:
            raise CrawlError(
                f"schedule {name!r} re-visits matches (revisit_matches), and this scheduler"
                " has no re-visit policy"
            )
        return list(self.revisit(target))

    def claim(
        self, name: str, due_at: datetime, *, missed: tuple[datetime, ...] = ()
    ) -> RunRecord | None:
        """Claim the occurrence ``due_at`` of schedule ``name``: insert its run row and
        create its crawl job in one transaction. Returns None if it was claimed before
        (by anyone, at any time). ``missed`` occurrences are recorded with it.

        Raises:
            CrawlError: ``name`` is not a configured schedule.
        """
        settings = self.settings  # one read: the schedule and its target agree
        sched = settings.crawl.schedules.get(name)
        if sched is None:
            raise CrawlError(f"no schedule {name!r} in crawl.schedules")
        now = self.clock()
        due = times.utc(due_at)
        spec: JobSpec | None = None
        error = None
        revisit: list[str] = []
        try:
            spec = spec_for(settings, (sched.target,))
            if sched.revisit_matches:
                revisit = self._revisit_pages(name, sched.target)
            spec = dataclasses.replace(
                spec,
                max_pages=spec.max_pages + len(revisit),
                extra={**spec.extra, "schedule": name, "due_at": due.isoformat()},
            )
        except CopysealError as e:
            error, spec = str(e), None  # a run that cannot start gets no job
        job_id = new_job_id() if spec is not None else None
        try:
            with self.engine.begin() as conn:
                if spec is not None:
                    # The job first: the write lock is taken before anything is read.
                    JobStore(self.engine).create_job(spec, conn=conn, job_id=job_id, created_at=now)
                claimed = insert_or_ignore(
                    conn,
                    ScheduleRun,
                    {
                        "schedule": name,
                        "due_at": due,
                        "target": sched.target,
                        "status": _UNFINISHED if error is None else "failed",
                        "job_id": job_id,
                        "revisit_pages": len(revisit),
                        "owner": self.owner if error is None else None,
                        "attempts": 0,
                        "claimed_at": now,
                        "heartbeat_at": now,
                        "finished_at": None if error is None else now,
                        "error": error,
                    },
                    index_elements=["schedule", "due_at"],
                    returning=[ScheduleRun.id],
                )
                if not claimed:
                    raise _Lost
                if revisit and job_id is not None:
                    insert_or_ignore(
                        conn,
                        CrawlPage,
                        [
                            {
                                "job_id": job_id,
                                "url_key": url_key(u),
                                "url": u,
                                "kind": "page",
                                "depth": 0,
                                "status": "queued",
                                "images": 0,
                            }
                            for u in revisit
                        ],
                        index_elements=["job_id", "url_key"],
                    )
                if missed:
                    insert_or_ignore(
                        conn,
                        ScheduleRun,
                        [
                            {
                                "schedule": name,
                                "due_at": m,
                                "target": sched.target,
                                "status": "missed",
                                "job_id": None,
                                "revisit_pages": 0,
                                "owner": None,
                                "attempts": 0,
                                "claimed_at": now,
                                "heartbeat_at": None,
                                "finished_at": now,
                                "error": None,
                            }
                            for m in missed
                        ],
                        index_elements=["schedule", "due_at"],
                    )
                row = conn.execute(select(ScheduleRun).where(ScheduleRun.id == claimed[0].id)).one()
        except _Lost:
            return None
        return RunRecord.from_row(row)

    # -- running -------------------------------------------------------------------------

    def _update(self, run: RunRecord, **values: Any) -> RunRecord:
        with self.engine.begin() as conn:
            conn.execute(
                update(ScheduleRun)
                .where(ScheduleRun.id == run.run_id, ScheduleRun.owner == self.owner)
                .values(**values)
            )
            row = conn.execute(select(ScheduleRun).where(ScheduleRun.id == run.run_id)).one()
        return RunRecord.from_row(row)

    def _heartbeat(self, run: RunRecord, done: threading.Event) -> None:
        while not done.wait(HEARTBEAT_SECONDS):
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        update(ScheduleRun)
                        .where(ScheduleRun.id == run.run_id, ScheduleRun.owner == self.owner)
                        .values(heartbeat_at=self.clock())
                    )
            except Exception as e:  # a missed beat is not fatal; the next one may work
                log.warning("schedule %s: heartbeat failed: %s", run.schedule, e)

    def _job_status(self, job_id: str) -> str:
        return CrawlSummary.load(JobStore(self.engine), job_id, with_matches=False).status

    def execute(self, run: RunRecord) -> RunRecord:
        """Run (or resume) a claimed run's job to its end and record how it ended."""
        if run.job_id is None:
            return self._update(
                run, status="failed", owner=None, finished_at=self.clock(), error="no job"
            )
        # A previous scheduler's crawl process may outlive it: let it finish first.
        while self._job_status(run.job_id) == "running":
            if self.stop.wait(1.0):
                return self._release(run, None)
        done = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(run, done), daemon=True)
        beat.start()
        try:
            try:
                outcome = self.runner(run.job_id)
            except CopysealError as e:
                outcome = RunOutcome(status="failed", error=str(e))
        finally:
            done.set()
            beat.join()
        if self.stop.is_set() and outcome.status in (_UNDONE | {"stopped"}):
            return self._release(run, outcome.error)
        if outcome.status in _UNDONE:
            # The crawl process died: resume it at a later tick, a few times at most.
            error = outcome.error or f"job {outcome.status}"
            if run.attempts + 1 < MAX_ATTEMPTS:
                return self._release(run, error, attempts=run.attempts + 1)
            outcome = RunOutcome(status="failed", error=f"{error} ({MAX_ATTEMPTS} times)")
        status = outcome.status if outcome.status in ("finished", "stopped") else "failed"
        record = self._update(
            run,
            status=status,
            owner=None,
            finished_at=self.clock(),
            error=outcome.error,
        )
        if self.on_run is not None:
            self.on_run(record)
        return record

    def _release(self, run: RunRecord, error: str | None, **values: Any) -> RunRecord:
        """Leave the run unfinished and ownerless: the next scheduler resumes its job."""
        record = self._update(run, owner=None, error=error, **values)
        if self.on_run is not None:
            self.on_run(record)
        return record

    def tick(self) -> list[RunRecord]:
        """Run what is due now: first unfinished runs whose scheduler is gone (their jobs
        are resumed), then each schedule's due occurrence. Returns the runs handled."""
        handled: list[RunRecord] = []
        schedules = self._schedules()
        now = self.clock()
        with self.engine.connect() as conn:
            unfinished = [RunRecord.from_row(r) for r in _runs(conn, status=_UNFINISHED)]
        for run in unfinished:
            if self.stop.is_set():
                return handled
            if run.schedule not in schedules or not self._stale(run, now):
                continue
            taken = self._take_over(run, now)
            if taken is None:
                continue
            log.info("schedule %s: resuming job %s (due %s)", run.schedule, run.job_id, run.due_at)
            handled.append(self.execute(taken))
        for name, sched in sorted(schedules.items()):
            if self.stop.is_set():
                break
            now = self.clock()
            with self.engine.connect() as conn:
                busy = any(True for _ in _runs(conn, name, _UNFINISHED))
                last_due = _last_due(conn, name)
            if busy:
                continue  # runs of one schedule never overlap
            plan = plan_catch_up(sched.cron, last_due=last_due, now=now)
            if plan.run is None:
                continue
            if plan.dropped:
                log.warning(
                    "schedule %s: %d more missed occurrences not recorded", name, plan.dropped
                )
            claimed = self.claim(name, plan.run, missed=plan.missed)
            if claimed is None:
                continue
            if plan.missed:
                log.warning(
                    "schedule %s: %d occurrence(s) missed while no scheduler ran; running the"
                    " latest (due %s)",
                    name,
                    len(plan.missed),
                    plan.run.isoformat(),
                )
            if claimed.status != _UNFINISHED:
                if self.on_run is not None:
                    self.on_run(claimed)
                handled.append(claimed)
                continue
            handled.append(self.execute(claimed))
        return handled


class _Lost(Exception):
    """The occurrence was claimed by someone else: roll the claim transaction back."""
