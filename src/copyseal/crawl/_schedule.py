"""Scheduled crawls (``crawl.schedules``): next runs, claiming each due run once, catch-up.

**Time.** Cron expressions are evaluated in UTC (:mod:`copyseal._cron`): no daylight-saving
jumps, so each occurrence exists exactly once.

**Exactly once.** A scheduler *claims* an occurrence by inserting its ``schedule_runs``
row, whose unique key is (schedule, due time), in the same transaction as the crawl job
it will run (and that job's re-visit pages). Of two schedulers (or a scheduler and its
own restart), the second insert does nothing, and its job insert is rolled back with it.
So every claimed run has its job from the first instant: a scheduler that dies after
claiming leaves the run ``running`` with its job id and its owner; the next scheduler
that sees the owner dead (same host: the process is gone; any host: no heartbeat for
:data:`STALE_AFTER`), or the owner released (a clean shutdown), takes the run over with
a compare-and-set on the owner and *resumes the same job* (done pages are not fetched
again). Runs of one schedule never overlap: no new occurrence is claimed while an
earlier run of the same schedule is unfinished.

**Catch-up (no skipped run).** At each tick, the occurrences of a schedule that came
due since its last recorded one (all of ``(last due, now]``) are accounted for: the
latest runs once, the older ones are recorded as ``missed`` (at most
:data:`MAX_MISSED_RECORDED` of them; a crawl of a site's *current* state several times
in a row proves nothing more than once). A schedule with no runs yet runs its latest
occurrence at the scheduler's first start (it was never run; waiting up to a whole
period to see a new schedule work helps no one).

**Re-visit.** With ``revisit_matches``, the job also queues (at depth 0, on top of the
target's page limit) every page where earlier jobs of the same target found a match of
a work that is still registered, so continued use is captured again as new evidence.

The scheduler runs each job through a :data:`JobRunner` (the CLI's runs
``copyseal crawl --resume JOB`` in a child process: a Twisted reactor runs once per
process, and the child seals pages with matches as any crawl does).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from copyseal._cron import parse_cron
from copyseal.config import CrawlSchedule, Settings
from copyseal.crawl._jobs import CrawlSummary
from copyseal.crawl._spec import JobSpec, spec_for
from copyseal.crawl._store import JobStore, url_key
from copyseal.crawl._tables import CrawlJob, CrawlMatch, CrawlPage, ScheduleRun
from copyseal.crawl._targets import effective_settings
from copyseal.db.models import Work
from copyseal.errors import CopysealError, CrawlError
from copyseal.workspace import Workspace

__all__ = [
    "MAX_MISSED_RECORDED",
    "STALE_AFTER",
    "CatchUp",
    "JobRunner",
    "RunOutcome",
    "RunRecord",
    "ScheduleState",
    "Scheduler",
    "next_run",
    "plan_catch_up",
    "schedule_states",
]

log = logging.getLogger(__name__)

#: A run whose owner has not written a heartbeat for this long is taken over by another
#: scheduler (on the owner's own host, a dead process is noticed at once).
STALE_AFTER = timedelta(minutes=5)
#: How often a scheduler refreshes the heartbeat of the run it executes.
HEARTBEAT_SECONDS = 30.0
#: Older missed occurrences recorded at most per catch-up (the rest are only logged).
MAX_MISSED_RECORDED = 1000
#: A run whose job process died is resumed at most this many times, then ``failed``.
MAX_ATTEMPTS = 3

#: Statuses of a run that is claimed and not over.
_UNFINISHED = "running"
#: Job statuses that mean the job ended without finishing its work.
_UNDONE = frozenset({"created", "running", "interrupted"})


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes: every time stored here is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else _utc(value).isoformat()


# -- pure schedule logic -------------------------------------------------------------------


def next_run(cron: str, after: datetime) -> datetime:
    """The first occurrence of ``cron`` strictly after ``after`` (UTC; naive means UTC)."""
    return parse_cron(cron).next_after(after)


@dataclass(frozen=True, kw_only=True)
class CatchUp:
    """What is due at a tick: the occurrence to run (or None) and older ones passed over."""

    run: datetime | None
    missed: tuple[datetime, ...] = ()
    #: Missed occurrences beyond :data:`MAX_MISSED_RECORDED` (counted, not recorded).
    dropped: int = 0


def plan_catch_up(cron: str, *, last_due: datetime | None, now: datetime) -> CatchUp:
    """The catch-up policy (see the module docstring): of the occurrences in
    ``(last_due, now]``, the latest runs and the others are missed; with no ``last_due``
    (never run), the latest occurrence at or before ``now`` runs."""
    expr = parse_cron(cron)
    if last_due is None:
        return CatchUp(run=expr.latest_at(now))
    occurrences, total = expr.between(last_due, now, limit=MAX_MISSED_RECORDED + 1)
    if not occurrences:
        return CatchUp(run=None)
    return CatchUp(
        run=occurrences[-1], missed=tuple(occurrences[:-1]), dropped=total - len(occurrences)
    )


# -- records -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RunOutcome:
    """What a :data:`JobRunner` reports: the job's status once its process ended
    (``finished``, ``stopped``, ``failed``, or ``interrupted`` if it died) and why."""

    status: str
    error: str | None = None


#: Runs (or resumes) a crawl job to its end, in a child process; given the job id.
JobRunner = Callable[[str], RunOutcome]


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    """One ``schedule_runs`` row: an occurrence of a schedule and what came of it."""

    run_id: int
    schedule: str
    due_at: datetime
    target: str
    status: str
    job_id: str | None
    revisit_pages: int
    owner: str | None
    attempts: int
    claimed_at: datetime
    heartbeat_at: datetime | None
    finished_at: datetime | None
    error: str | None

    @classmethod
    def from_row(cls, row: Any) -> RunRecord:
        m = row._mapping if hasattr(row, "_mapping") else row
        return cls(
            run_id=m["id"],
            schedule=m["schedule"],
            due_at=_utc(m["due_at"]),
            target=m["target"],
            status=m["status"],
            job_id=m["job_id"],
            revisit_pages=m["revisit_pages"],
            owner=m["owner"],
            attempts=m["attempts"],
            claimed_at=_utc(m["claimed_at"]),
            heartbeat_at=_utc_or_none(m["heartbeat_at"]),
            finished_at=_utc_or_none(m["finished_at"]),
            error=m["error"],
        )

    def to_json(self) -> dict[str, Any]:
        """A run in ``schedule list --json`` and ``scheduler --json``."""
        return {
            "schedule": self.schedule,
            "due_at": _iso(self.due_at),
            "target": self.target,
            "status": self.status,
            "job_id": self.job_id,
            "revisit_pages": self.revisit_pages,
            "attempts": self.attempts,
            "claimed_at": _iso(self.claimed_at),
            "finished_at": _iso(self.finished_at),
            "error": self.error,
        }


@dataclass(frozen=True, kw_only=True)
class ScheduleState:
    """A configured schedule with its next and last run (``copyseal schedule list``)."""

    name: str
    target: str
    cron: str
    enabled: bool
    revisit_matches: bool
    next_run: datetime | None
    due: bool
    last_run: RunRecord | None
    job_status: str | None
    missed: int

    def to_json(self) -> dict[str, Any]:
        last = self.last_run.to_json() if self.last_run is not None else None
        if last is not None:
            last["job_status"] = self.job_status
        return {
            "name": self.name,
            "target": self.target,
            "cron": self.cron,
            "timezone": "UTC",
            "enabled": self.enabled,
            "revisit_matches": self.revisit_matches,
            "next_run": _iso(self.next_run),
            "due": self.due,
            "last_run": last,
            "missed": self.missed,
        }


def _runs(conn: Connection, schedule: str | None = None, status: str | None = None) -> list[Any]:
    stmt = select(ScheduleRun).order_by(ScheduleRun.due_at, ScheduleRun.id)
    if schedule is not None:
        stmt = stmt.where(ScheduleRun.schedule == schedule)
    if status is not None:
        stmt = stmt.where(ScheduleRun.status == status)
    return list(conn.execute(stmt).all())


def _last_due(conn: Connection, schedule: str) -> datetime | None:
    return _utc_or_none(
        conn.scalar(select(func.max(ScheduleRun.due_at)).where(ScheduleRun.schedule == schedule))
    )


def schedule_states(workspace: Workspace, *, now: datetime | None = None) -> list[ScheduleState]:
    """Every schedule (config.yaml's and those of targets in the database), by name,
    with its next run and its last run."""
    now = now or _now()
    store = JobStore(workspace.engine)
    schedules = effective_settings(workspace).crawl.schedules
    out = []
    with workspace.engine.connect() as conn:
        for name, sched in sorted(schedules.items()):
            rows = [RunRecord.from_row(r) for r in _runs(conn, name)]
            ran = [r for r in rows if r.status != "missed"]
            last = max(ran, key=lambda r: r.due_at) if ran else None
            last_due = max((r.due_at for r in rows), default=None)
            nxt: datetime | None = None
            due = False
            if sched.enabled:
                plan = plan_catch_up(sched.cron, last_due=last_due, now=now)
                if plan.run is not None:
                    nxt, due = plan.run, True
                else:
                    nxt = next_run(sched.cron, max(now, last_due) if last_due else now)
            job_status = None
            if last is not None and last.job_id is not None:
                with contextlib.suppress(CrawlError):
                    job_status = CrawlSummary.load(store, last.job_id, with_matches=False).status
            out.append(
                ScheduleState(
                    name=name,
                    target=sched.target,
                    cron=sched.cron,
                    enabled=sched.enabled,
                    revisit_matches=sched.revisit_matches,
                    next_run=nxt,
                    due=due,
                    last_run=last,
                    job_status=job_status,
                    missed=sum(1 for r in rows if r.status == "missed"),
                )
            )
    return out


# -- the scheduler -------------------------------------------------------------------------


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


def _insert_ignore(
    conn: Connection, table: Any, rows: list[dict[str, Any]], keys: list[str]
) -> Any:
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    return conn.execute(
        dialect.insert(table).values(rows).on_conflict_do_nothing(index_elements=keys)
    )


class Scheduler:
    """Runs the due occurrences of the configured, enabled schedules, one at a time.

    Args:
        workspace: The workspace (its settings hold ``crawl.schedules``).
        runner: Runs a crawl job to its end (see :data:`JobRunner`).
        stop: Set to stop: no new run starts, a run in progress is released (the runner
            is expected to stop its job gracefully; the next scheduler resumes it).
        clock: Returns the current time (UTC); tests pass a fixed one.
        on_run: Called with each run's record when it ends or is released.
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        runner: JobRunner,
        stop: threading.Event | None = None,
        clock: Callable[[], datetime] = _now,
        on_run: Callable[[RunRecord], None] | None = None,
    ) -> None:
        self.workspace = workspace
        self.engine = workspace.engine
        self.runner = runner
        self.stop = stop or threading.Event()
        self.clock = clock
        self.on_run = on_run
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

    def _revisit_pages(self, target: str) -> list[str]:
        """Pages where earlier jobs of ``target`` found a work that is still registered."""
        with self.engine.connect() as conn:
            return list(
                conn.scalars(
                    select(CrawlMatch.page_url)
                    .join(CrawlJob, CrawlJob.job_id == CrawlMatch.job_id)
                    .join(Work, Work.work_id == CrawlMatch.work_id)
                    .where(CrawlJob.target == target, Work.removed_at.is_(None))
                    .group_by(CrawlMatch.page_url)
                    .order_by(CrawlMatch.page_url)
                )
            )

    def claim(
        self, name: str, due_at: datetime, *, missed: tuple[datetime, ...] = ()
    ) -> RunRecord | None:
        """Claim the occurrence ``due_at`` of schedule ``name``: insert its run row and
        create its crawl job in one transaction. Returns None if it was claimed before
        (by anyone, at any time). ``missed`` occurrences are recorded with it.

        Raises:
            CrawlError: ``name`` is not a configured schedule.
        """
        sched = self.settings.crawl.schedules.get(name)
        if sched is None:
            raise CrawlError(f"no schedule {name!r} in crawl.schedules")
        now = self.clock()
        due = _utc(due_at)
        spec: JobSpec | None = None
        error = None
        revisit: list[str] = []
        try:
            spec = spec_for(self.settings, (sched.target,))
            if sched.revisit_matches:
                revisit = self._revisit_pages(sched.target)
            spec = dataclasses.replace(
                spec,
                max_pages=spec.max_pages + len(revisit),
                extra={**spec.extra, "schedule": name, "due_at": due.isoformat()},
            )
        except CopysealError as e:
            error = str(e)
        job_id = "c" + uuid.uuid4().hex[:15] if spec is not None else None
        try:
            with self.engine.begin() as conn:
                if spec is not None:
                    # The job first: the write lock is taken before anything is read.
                    conn.execute(
                        insert(CrawlJob).values(
                            job_id=job_id,
                            target=spec.target,
                            spider=spec.spider,
                            render=spec.render,
                            status="created",
                            spec=spec.dumps(),
                            robots_override=spec.robots_override_reason,
                            stats="{}",
                            runs=0,
                            created_at=now,
                        )
                    )
                claimed = conn.execute(
                    (sqlite if conn.dialect.name == "sqlite" else postgresql)
                    .insert(ScheduleRun)
                    .values(
                        schedule=name,
                        due_at=due,
                        target=sched.target,
                        status=_UNFINISHED if error is None else "failed",
                        job_id=job_id,
                        revisit_pages=len(revisit),
                        owner=self.owner if error is None else None,
                        attempts=0,
                        claimed_at=now,
                        heartbeat_at=now,
                        finished_at=None if error is None else now,
                        error=error,
                    )
                    .on_conflict_do_nothing(index_elements=["schedule", "due_at"])
                    .returning(ScheduleRun.id)
                ).first()
                if claimed is None:
                    raise _Lost
                if revisit and job_id is not None:
                    _insert_ignore(
                        conn,
                        CrawlPage.__table__,
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
                        ["job_id", "url_key"],
                    )
                if missed:
                    _insert_ignore(
                        conn,
                        ScheduleRun.__table__,
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
                        ["schedule", "due_at"],
                    )
                row = conn.execute(select(ScheduleRun).where(ScheduleRun.id == claimed[0])).one()
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
