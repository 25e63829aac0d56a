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

The scheduler runs each job through a :data:`JobRunner`, and takes the pages to re-visit
from a :data:`RevisitPolicy`: both belong to the pipeline (:mod:`copyseal.pipeline`, whose
runner crawls and seals each job in a child process it starts, since a Twisted reactor
runs once per process).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from copyseal import times
from copyseal._cron import parse_cron
from copyseal.crawl._jobs import CrawlSummary
from copyseal.crawl._store import JobStore
from copyseal.crawl._targets import effective_settings
from copyseal.db.schema.crawl import ScheduleRun
from copyseal.errors import CrawlError
from copyseal.workspace import Workspace

__all__ = [
    "MAX_MISSED_RECORDED",
    "STALE_AFTER",
    "CatchUp",
    "JobRunner",
    "RevisitPolicy",
    "RunOutcome",
    "RunRecord",
    "ScheduleState",
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

#: The pages a ``revisit_matches`` schedule crawls again; given the schedule's target name.
RevisitPolicy = Callable[[str], Sequence[str]]


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
            due_at=times.utc(m["due_at"]),
            target=m["target"],
            status=m["status"],
            job_id=m["job_id"],
            revisit_pages=m["revisit_pages"],
            owner=m["owner"],
            attempts=m["attempts"],
            claimed_at=times.utc(m["claimed_at"]),
            heartbeat_at=times.utc_or_none(m["heartbeat_at"]),
            finished_at=times.utc_or_none(m["finished_at"]),
            error=m["error"],
        )

    def to_json(self) -> dict[str, Any]:
        """A run in ``schedule list --json`` and ``scheduler --json``."""
        return {
            "schedule": self.schedule,
            "due_at": times.iso(self.due_at),
            "target": self.target,
            "status": self.status,
            "job_id": self.job_id,
            "revisit_pages": self.revisit_pages,
            "attempts": self.attempts,
            "claimed_at": times.iso(self.claimed_at),
            "finished_at": times.iso(self.finished_at),
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
            "next_run": times.iso(self.next_run),
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
    return times.utc_or_none(
        conn.scalar(select(func.max(ScheduleRun.due_at)).where(ScheduleRun.schedule == schedule))
    )


def schedule_states(workspace: Workspace, *, now: datetime | None = None) -> list[ScheduleState]:
    """Every schedule (config.yaml's and those of targets in the database), by name,
    with its next run and its last run."""
    now = now or times.now()
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
