"""A distributed job's progress across its workers, for ``copyseal crawls --json``.

The page, image and match counts of a job are the same for one process and many (the
``crawl_pages``, ``crawl_images`` and ``crawl_matches`` rows). What only a distributed job
has comes from the tables of :mod:`copyseal.db.schema.distributed`: the pages live workers
hold now (``crawl_leases``: leased before fetching, released once recorded), the workers
working on it, and its capture-and-seal tasks (``seal_tasks``) by state, with the errors of
those that failed. A worker whose heartbeat is older than ``distributed.lease_seconds``
is dead: its leases and claims count as free, as the workers themselves decide.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.engine import Engine

from copyseal import times
from copyseal.db.schema.crawl import CrawlPage
from copyseal.db.schema.distributed import CrawlLease, CrawlWorker, DistributedJob, SealTask

__all__ = ["SEAL_STATES", "distributed_progress"]

#: The states of a seal task (:class:`~copyseal.db.schema.distributed.SealTask`), each
#: counted (0 included) in ``seal_tasks``.
SEAL_STATES = ("pending", "claimed", "done", "failed")
#: Failed seal tasks listed with their error.
_ERROR_EXAMPLES = 3


def distributed_progress(
    engine: Engine, job_id: str, *, lease_seconds: float
) -> dict[str, Any] | None:
    """The ``distributed`` object of a job's summary (None: not a distributed job).

    ``{"enqueued_at", "seeded_at", "pages_in_flight", "workers": [{"worker_id", "host",
    "pid", "activity", "pages_in_flight", "seals_claimed"}], "seal_tasks": {state: n},
    "seal_errors": [{"page_url", "error"}], "errors": {"pages", "seals"}}``.
    """
    alive: ColumnElement[bool] = and_(
        CrawlWorker.seen_at > times.now() - timedelta(seconds=lease_seconds),
        CrawlWorker.stopped_at.is_(None),
    )
    with engine.connect() as conn:
        job = conn.execute(
            select(DistributedJob.enqueued_at, DistributedJob.seeded_at).where(
                DistributedJob.job_id == job_id
            )
        ).first()
        if job is None:
            return None
        leases = dict(
            conn.execute(
                select(CrawlLease.worker_id, func.count())
                .join(CrawlWorker, CrawlWorker.worker_id == CrawlLease.worker_id)
                .where(CrawlLease.job_id == job_id, alive)
                .group_by(CrawlLease.worker_id)
            ).all()
        )
        claims = dict(
            conn.execute(
                select(SealTask.worker_id, func.count())
                .join(CrawlWorker, CrawlWorker.worker_id == SealTask.worker_id)
                .where(SealTask.job_id == job_id, SealTask.state == "claimed", alive)
                .group_by(SealTask.worker_id)
            ).all()
        )
        working = conn.execute(
            select(CrawlWorker)
            .where(
                alive,
                or_(
                    CrawlWorker.worker_id.in_(list(leases) + list(claims)),
                    CrawlWorker.activity.in_([f"crawl {job_id}", f"seal {job_id}"]),
                ),
            )
            .order_by(CrawlWorker.started_at, CrawlWorker.worker_id)
        ).all()
        states = dict(
            conn.execute(
                select(SealTask.state, func.count())
                .where(SealTask.job_id == job_id)
                .group_by(SealTask.state)
            ).all()
        )
        failed = conn.execute(
            select(SealTask.page_url, SealTask.error)
            .where(SealTask.job_id == job_id, SealTask.state == "failed")
            .order_by(SealTask.id)
            .limit(_ERROR_EXAMPLES)
        ).all()
        page_errors = conn.scalar(
            select(func.count()).where(
                CrawlPage.job_id == job_id, CrawlPage.kind == "page", CrawlPage.status == "error"
            )
        )
    seal_tasks = {s: int(states.get(s, 0)) for s in SEAL_STATES}
    return {
        "enqueued_at": times.iso(job.enqueued_at),
        "seeded_at": times.iso(job.seeded_at),
        "pages_in_flight": int(sum(leases.values())),
        "workers": [
            {
                "worker_id": w.worker_id,
                "host": w.host,
                "pid": w.pid,
                "activity": w.activity,
                "pages_in_flight": int(leases.get(w.worker_id, 0)),
                "seals_claimed": int(claims.get(w.worker_id, 0)),
            }
            for w in working
        ],
        "seal_tasks": seal_tasks,
        "seal_errors": [{"page_url": u, "error": e} for u, e in failed],
        "errors": {"pages": int(page_errors or 0), "seals": seal_tasks["failed"]},
    }
