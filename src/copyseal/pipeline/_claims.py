"""Capture and seal as tasks that many workers share: rows claimed with ``SKIP LOCKED``.

Each page of a distributed job that is done and has matches without a bundle becomes one
``seal_tasks`` row (:meth:`SealClaims.sync`, insert-or-ignore: one row per page, however
many workers sync). A worker claims a row with ``SELECT … FOR UPDATE SKIP LOCKED`` (two
workers never wait on, nor take, the same row), marks it ``claimed`` by itself and
commits; its heartbeat keeps the claim. A claim whose worker died (no heartbeat for
``distributed.lease_seconds``) is claimed again by another; each claim counts an attempt,
and a page that fails ``distributed.max_attempts`` times is ``failed`` and skipped.

No queue library is needed: the database that already records matches and bundles
holds the tasks, so a claim, its bundle's record and the matches it seals are all in the
one place a crash is reconciled from (:func:`~copyseal.pipeline._records.
reconcile_bundles`, run once per seal pass and before a page claimed before is sealed
again). On SQLite (one machine) ``FOR UPDATE`` is not rendered; the claim's conditional
update still lets one writer win.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement

from copyseal import times
from copyseal.db.schema.crawl import CrawlMatch, CrawlPage
from copyseal.db.schema.distributed import CrawlWorker, DistributedJob, SealTask
from copyseal.db.sql import insert_or_ignore

__all__ = ["SealClaim", "SealClaims"]


@dataclass(frozen=True, kw_only=True)
class SealClaim:
    """A page this worker claimed to capture and seal."""

    task_id: int
    job_id: str
    page_url: str
    attempt: int


class SealClaims:
    """The ``seal_tasks`` of distributed jobs, as one worker sees them.

    Args:
        engine: The shared database.
        worker_id: This worker (its heartbeat row in ``crawl_workers`` keeps its claims).
        lease_seconds: A worker not seen for this long is dead; its claims are free.
        max_attempts: Claims of one page before it is recorded as failed.
    """

    def __init__(
        self, *, engine: Engine, worker_id: str, lease_seconds: float, max_attempts: int
    ) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts

    def sync(self, *, capture: bool) -> int:
        """Add a task for each done page of a distributed job with unsealed matches
        (none twice) whose job is to be sealed (its ``capture``, else ``capture``);
        returns how many were added."""
        page_done = exists().where(
            CrawlPage.job_id == CrawlMatch.job_id,
            CrawlPage.url_key == CrawlMatch.page_key,
            CrawlPage.status == "done",
        )
        sealed_job: ColumnElement[bool] = DistributedJob.capture.is_(True)
        if capture:
            sealed_job = or_(sealed_job, DistributedJob.capture.is_(None))
        distributed = exists().where(DistributedJob.job_id == CrawlMatch.job_id, sealed_job)
        known = exists().where(
            SealTask.job_id == CrawlMatch.job_id, SealTask.page_key == CrawlMatch.page_key
        )
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(CrawlMatch.job_id, CrawlMatch.page_key, CrawlMatch.page_url)
                .where(CrawlMatch.bundle_id.is_(None), page_done, distributed, ~known)
                .distinct()
            ).all()
            if not rows:
                return 0
            insert_or_ignore(
                conn,
                SealTask,
                [
                    {
                        "job_id": j,
                        "page_key": k,
                        "page_url": u,
                        "state": "pending",
                        "attempts": 0,
                    }
                    for j, k, u in rows
                ],
                index_elements=["job_id", "page_key"],
            )
        return len(rows)

    def claim(self, *, job_id: str | None = None) -> SealClaim | None:
        """Claim the oldest free task (pending, or claimed by a dead worker), of
        ``job_id`` if given; None: none. Tasks out of attempts are marked ``failed`` on
        the way."""
        now = times.now()
        alive = select(CrawlWorker.worker_id).where(
            CrawlWorker.seen_at > now - self.lease, CrawlWorker.stopped_at.is_(None)
        )
        free = or_(
            SealTask.state == "pending",
            and_(SealTask.state == "claimed", SealTask.worker_id.not_in(alive)),
        )
        if job_id is not None:
            free = and_(free, SealTask.job_id == job_id)
        while True:
            with self.engine.begin() as conn:
                row = conn.execute(
                    select(
                        SealTask.id,
                        SealTask.job_id,
                        SealTask.page_url,
                        SealTask.attempts,
                        SealTask.state,
                        SealTask.worker_id,
                    )
                    .where(free)
                    .order_by(SealTask.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).first()
                if row is None:
                    return None
                task_id, job, page_url, attempts, state, holder = row
                same = and_(
                    SealTask.id == task_id,
                    SealTask.state == state,
                    SealTask.worker_id.is_(None)
                    if holder is None
                    else SealTask.worker_id == holder,
                )
                if attempts >= self.max_attempts:
                    conn.execute(
                        update(SealTask)
                        .where(same)
                        .values(
                            state="failed",
                            worker_id=None,
                            error=f"claimed {attempts} times and never sealed (its workers"
                            " died); not tried again",
                        )
                    )
                    continue
                won = conn.execute(
                    update(SealTask)
                    .where(same)
                    .values(
                        state="claimed",
                        worker_id=self.worker_id,
                        claimed_at=now,
                        attempts=attempts + 1,
                    )
                ).rowcount
            if won:
                return SealClaim(
                    task_id=task_id, job_id=job, page_url=page_url, attempt=attempts + 1
                )

    def done(self, claim: SealClaim) -> None:
        """The page is sealed (or had nothing left to seal)."""
        self._set(claim, state="done", error=None)

    def failed(self, claim: SealClaim, error: str) -> None:
        """Sealing failed: the task is tried again until it is out of attempts."""
        final = claim.attempt >= self.max_attempts
        self._set(claim, state="failed" if final else "pending", error=error[:2000])

    def _set(self, claim: SealClaim, *, state: str, error: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(SealTask)
                .where(SealTask.id == claim.task_id, SealTask.worker_id == self.worker_id)
                .values(state=state, worker_id=None, error=error)
            )

    def release_all(self) -> None:
        """This worker stops: its claims are free at once."""
        with self.engine.begin() as conn:
            conn.execute(
                update(SealTask)
                .where(SealTask.worker_id == self.worker_id, SealTask.state == "claimed")
                .values(state="pending", worker_id=None)
            )
