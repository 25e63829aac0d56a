"""Distributed crawls, the shared state: Redis frontiers and the database's leases.

A distributed job's frontier and duplicate filter are scrapy-redis structures in Redis
under ``copyseal:crawl:JOB:`` (a sorted set of serialised requests, a set of request
fingerprints). Redis only says what to fetch next; the database stays the record of
truth, exactly as in a single-process crawl: a ``crawl_pages`` row is ``done`` only
after its images are stored, and a job is ``finished`` when it has no ``queued`` page.

What makes SIGKILL harmless is the lease: a worker takes a page (``crawl_leases``) before
fetching it, and its heartbeat (``crawl_workers.seen_at``, every third of
``distributed.lease_seconds``) keeps the lease alive. A ``queued`` page with no live
lease while the job's Redis queue is empty was lost (a killed worker, a restarted Redis):
it is pushed again (:meth:`Frontier.requeue_lost`). A page taken again when it is already
done, or held by a live worker, is dropped, so done pages are never fetched twice; a page
taken ``distributed.max_attempts`` times without finishing (it killed its workers) is
recorded as an error and skipped.
"""

from __future__ import annotations

import os
import pickle
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.engine import Engine

from copyseal import times
from copyseal.crawl._fetch import ERROR_STATUSES
from copyseal.crawl._spec import JobSpec
from copyseal.crawl._store import FrontierEntry, JobStore, url_key
from copyseal.db.schema.crawl import CrawlJob, CrawlPage
from copyseal.db.schema.distributed import CrawlLease, CrawlWorker, DistributedJob
from copyseal.db.sql import insert_or_ignore

__all__ = [
    "GAVE_UP",
    "Frontier",
    "JobWork",
    "Take",
    "connect_redis",
    "dupefilter_key",
    "encode_entry",
    "enqueue_job",
    "mark_seeded",
    "new_worker_id",
    "push_entries",
    "queue_key",
    "redact_url",
    "run_session",
    "workers",
]

_PREFIX = "copyseal:crawl:"
#: Why a page is given up after too many attempts (a code of :mod:`copyseal.crawl.reasons`).
GAVE_UP = "too-many-attempts"

#: What :meth:`Frontier.take` decided: fetch it, or drop it (done, held, given up).
Take = Literal["fetch", "done", "held", "gave-up"]


def queue_key(job_id: str) -> str:
    """The Redis key of a job's frontier (a scrapy-redis priority queue)."""
    return f"{_PREFIX}{job_id}:requests"


def dupefilter_key(job_id: str) -> str:
    """The Redis key of a job's duplicate filter (request fingerprints)."""
    return f"{_PREFIX}{job_id}:dupefilter"


def connect_redis(url: str) -> Any:
    """A Redis client for ``url`` (short timeouts: a worker says at once when Redis is
    down, and retries)."""
    import redis

    return redis.Redis.from_url(
        url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=15
    )


def redact_url(url: str) -> str:
    """A Redis URL with its password hidden, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def new_worker_id() -> str:
    """A worker's id: host, pid and a random part (unique across machines and restarts)."""
    return f"{socket.gethostname()[:20]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def encode_entry(entry: FrontierEntry) -> tuple[bytes, int]:
    """A frontier entry as scrapy-redis stores a request (its ``to_dict()``, pickled, as
    ``scrapy_redis.picklecompat`` does) and its priority; the callbacks are named as the
    spider's methods, which the worker resolves (``request_from_dict``)."""
    from scrapy import Request

    sitemap = entry.kind == "sitemap"
    priority = 10 if sitemap else -entry.depth
    request = Request(
        entry.url,
        dont_filter=True,  # pushed again on purpose: the duplicate filter saw it before
        priority=priority,
        meta={
            "copyseal_url": entry.url,
            "copyseal_depth": entry.depth,
            "handle_httpstatus_list": ERROR_STATUSES,
        },
    )
    data = request.to_dict()
    data["callback"] = "parse_sitemap" if sitemap else "parse_page"
    data["errback"] = "page_failed"
    return pickle.dumps(data, protocol=-1), priority


def push_entries(client: Any, job_id: str, entries: Sequence[FrontierEntry]) -> int:
    """Push entries onto the job's Redis frontier; returns how many were pushed."""
    if not entries:
        return 0
    members: dict[bytes, int] = {}
    for e in entries:
        data, priority = encode_entry(e)
        members[data] = -priority  # scrapy-redis pops the lowest score first
    client.zadd(queue_key(job_id), members)
    return len(members)


def enqueue_job(engine: Engine, spec: JobSpec, *, capture: bool | None = None) -> str:
    """Create a distributed job (``queued``) for workers to take; returns its id.

    The first worker to take it runs its spider's ``seeds()`` (a spider may read
    sitemaps or robots.txt to find them) and pushes them to Redis. ``capture``: seal its
    pages with matches (None: as each worker's ``capture.on_match`` says).
    """
    store = JobStore(engine)
    with engine.begin() as conn:
        job_id = store.create_job(spec, conn=conn)
        conn.execute(update(CrawlJob).where(CrawlJob.job_id == job_id).values(status="queued"))
        conn.execute(
            insert(DistributedJob).values(job_id=job_id, enqueued_at=times.now(), capture=capture)
        )
    return job_id


@dataclass(frozen=True, kw_only=True)
class JobWork:
    """A distributed job with something for a worker to do."""

    job_id: str
    #: The job still needs its seeds.
    unseeded: bool


class Frontier:
    """The database side of distributed crawling for one worker: jobs, leases, heartbeat.

    Args:
        engine: The shared database (PostgreSQL for several machines).
        worker_id: This worker's id (:func:`new_worker_id`).
        lease_seconds: A worker not seen for this long is dead.
        max_attempts: Times a page is taken before it is given up.
    """

    def __init__(
        self, *, engine: Engine, worker_id: str, lease_seconds: float, max_attempts: int
    ) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts

    # -- workers -------------------------------------------------------------------------

    def register(self) -> None:
        """Record this worker as alive (its first heartbeat)."""
        now = times.now()
        with self.engine.begin() as conn:
            insert_or_ignore(
                conn,
                CrawlWorker,
                [
                    {
                        "worker_id": self.worker_id,
                        "host": socket.gethostname(),
                        "pid": os.getpid(),
                        "started_at": now,
                        "seen_at": now,
                        "activity": "idle",
                    }
                ],
                index_elements=["worker_id"],
            )

    def beat(self, activity: str | None = None) -> None:
        """The heartbeat that keeps this worker's leases and claims alive."""
        values: dict[str, Any] = {"seen_at": times.now()}
        if activity is not None:
            values["activity"] = activity
        with self.engine.begin() as conn:
            conn.execute(
                update(CrawlWorker).where(CrawlWorker.worker_id == self.worker_id).values(**values)
            )

    def stopped(self) -> None:
        """This worker stops: its leases are released at once (not after expiry)."""
        self.release_all()
        with self.engine.begin() as conn:
            conn.execute(
                update(CrawlWorker)
                .where(CrawlWorker.worker_id == self.worker_id)
                .values(stopped_at=times.now(), activity="stopped")
            )

    def _alive(self) -> Any:
        """SQL: the ids of live workers."""
        return select(CrawlWorker.worker_id).where(
            CrawlWorker.seen_at > times.now() - self.lease, CrawlWorker.stopped_at.is_(None)
        )

    # -- jobs ----------------------------------------------------------------------------

    def jobs_with_work(self) -> list[JobWork]:
        """Distributed jobs not finished, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(DistributedJob.job_id, DistributedJob.seeded_at)
                .where(DistributedJob.finished_at.is_(None))
                .order_by(DistributedJob.enqueued_at)
            ).all()
        return [JobWork(job_id=j, unseeded=s is None) for j, s in rows]

    def claim_seeding(self, job_id: str) -> bool:
        """Take the job's seeding: one worker at a time, and again only if the one that
        took it died before its seeds were queued. The job becomes ``running``."""
        now = times.now()
        with self.engine.begin() as conn:
            won = conn.execute(
                update(DistributedJob)
                .where(
                    DistributedJob.job_id == job_id,
                    DistributedJob.seeded_at.is_(None),
                    or_(
                        DistributedJob.seeding_worker.is_(None),
                        DistributedJob.seeding_worker == self.worker_id,
                        DistributedJob.seeding_worker.not_in(self._alive()),
                    ),
                )
                .values(seeding_worker=self.worker_id)
            ).rowcount
            if won:
                conn.execute(
                    update(CrawlJob)
                    .where(CrawlJob.job_id == job_id)
                    .values(status="running", runs=CrawlJob.runs + 1, started_at=now)
                )
        return bool(won)

    def seeding_failed(self, job_id: str) -> None:
        """This worker could not seed the job (an error, not a kill): another may try."""
        with self.engine.begin() as conn:
            conn.execute(
                update(DistributedJob)
                .where(
                    DistributedJob.job_id == job_id,
                    DistributedJob.seeding_worker == self.worker_id,
                    DistributedJob.seeded_at.is_(None),
                )
                .values(seeding_worker=None)
            )

    def is_finished(self, job_id: str) -> bool:
        """No page of the job is queued (every page is done or recorded as not done)."""
        with self.engine.connect() as conn:
            seeded = conn.scalar(
                select(DistributedJob.seeded_at).where(DistributedJob.job_id == job_id)
            )
            queued = conn.scalar(
                select(CrawlPage.id)
                .where(CrawlPage.job_id == job_id, CrawlPage.status == "queued")
                .limit(1)
            )
        return seeded is not None and queued is None

    def finish(self, job_id: str, stats: str = "{}") -> bool:
        """Mark the job finished if it is; True for the one caller that did."""
        if not self.is_finished(job_id):
            return False
        now = times.now()
        with self.engine.begin() as conn:
            won = conn.execute(
                update(DistributedJob)
                .where(DistributedJob.job_id == job_id, DistributedJob.finished_at.is_(None))
                .values(finished_at=now)
            ).rowcount
            if won:
                conn.execute(
                    update(CrawlJob)
                    .where(CrawlJob.job_id == job_id)
                    .values(status="finished", finished_at=now, pid=None)
                )
        return bool(won)

    # -- leases --------------------------------------------------------------------------

    def take(self, job_id: str, url: str) -> Take:
        """Lease a page before fetching it: ``fetch``, or why not (``done``: already
        recorded; ``held``: a live worker has it; ``gave-up``: too many attempts)."""
        key = url_key(url)
        now = times.now()
        with self.engine.begin() as conn:
            status = conn.scalar(
                select(CrawlPage.status).where(CrawlPage.job_id == job_id, CrawlPage.url_key == key)
            )
            if status is not None and status != "queued":
                return "done"
            insert_or_ignore(
                conn,
                CrawlLease,
                [{"job_id": job_id, "url_key": key, "attempts": 0}],
                index_elements=["job_id", "url_key"],
            )
            row = conn.execute(
                select(CrawlLease.worker_id, CrawlLease.attempts)
                .where(CrawlLease.job_id == job_id, CrawlLease.url_key == key)
                .with_for_update()
            ).one()
            holder, attempts = row
            if holder == self.worker_id:
                return "held"  # a second copy of a page this session is fetching
            if holder is not None:
                alive = conn.scalar(
                    select(func.count()).where(
                        CrawlWorker.worker_id == holder,
                        CrawlWorker.seen_at > now - self.lease,
                        CrawlWorker.stopped_at.is_(None),
                    )
                )
                if alive:
                    return "held"
            if attempts >= self.max_attempts:
                conn.execute(
                    update(CrawlPage)
                    .where(CrawlPage.job_id == job_id, CrawlPage.url_key == key)
                    .values(
                        status="error",
                        reason=f"taken {attempts} times and never finished (its workers died)",
                        reason_code=GAVE_UP,
                        fetched_at=now,
                    )
                )
                conn.execute(
                    update(CrawlLease)
                    .where(CrawlLease.job_id == job_id, CrawlLease.url_key == key)
                    .values(worker_id=None)
                )
                return "gave-up"
            conn.execute(
                update(CrawlLease)
                .where(CrawlLease.job_id == job_id, CrawlLease.url_key == key)
                .values(worker_id=self.worker_id, leased_at=now, attempts=attempts + 1)
            )
        return "fetch"

    def release(self, job_id: str, url: str) -> None:
        """The page is recorded (done or not): its lease ends (its attempts are kept)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(CrawlLease)
                .where(
                    CrawlLease.job_id == job_id,
                    CrawlLease.url_key == url_key(url),
                    CrawlLease.worker_id == self.worker_id,
                )
                .values(worker_id=None)
            )

    def release_all(self) -> None:
        """Every lease of this worker ends (its crawl session ended or it stops)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(CrawlLease)
                .where(CrawlLease.worker_id == self.worker_id)
                .values(worker_id=None)
            )

    def lost(self, job_id: str) -> list[FrontierEntry]:
        """Queued pages of the job that no live worker holds."""
        live = and_(
            CrawlLease.job_id == CrawlPage.job_id,
            CrawlLease.url_key == CrawlPage.url_key,
            CrawlLease.worker_id.in_(self._alive()),
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(CrawlPage.url, CrawlPage.kind, CrawlPage.depth)
                .where(
                    CrawlPage.job_id == job_id,
                    CrawlPage.status == "queued",
                    ~exists().where(live),
                )
                .order_by(CrawlPage.kind.desc(), CrawlPage.depth, CrawlPage.id)
            ).all()
        return [FrontierEntry(url=u, kind=k, depth=d) for u, k, d in rows]

    def in_flight(self, job_id: str) -> int:
        """Pages of the job that live workers hold now."""
        with self.engine.connect() as conn:
            return int(
                conn.scalar(
                    select(func.count())
                    .select_from(CrawlLease)
                    .where(
                        CrawlLease.job_id == job_id,
                        CrawlLease.worker_id.in_(self._alive()),
                    )
                )
                or 0
            )

    def requeue_lost(self, client: Any, job_id: str) -> int:
        """Push the job's lost pages again if its Redis queue is empty (a page that waits
        in Redis is not lost); returns how many were pushed."""
        if client.zcard(queue_key(job_id)):
            return 0
        return push_entries(client, job_id, self.lost(job_id))


def mark_seeded(engine: Engine, job_id: str) -> None:
    """The job's seeds are queued (in the database): its seeding is done."""
    with engine.begin() as conn:
        conn.execute(
            update(DistributedJob)
            .where(DistributedJob.job_id == job_id, DistributedJob.seeded_at.is_(None))
            .values(seeded_at=times.now())
        )


def workers(engine: Engine, *, lease_seconds: float) -> list[dict[str, Any]]:
    """Every worker that is alive, for ``copyseal crawls``: id, host, pid, activity."""
    cutoff: datetime = times.now() - timedelta(seconds=lease_seconds)
    with engine.connect() as conn:
        rows = conn.execute(
            select(CrawlWorker).where(
                CrawlWorker.seen_at > cutoff, CrawlWorker.stopped_at.is_(None)
            )
        ).all()
    return [
        {"worker_id": r.worker_id, "host": r.host, "pid": r.pid, "activity": r.activity}
        for r in rows
    ]


def run_session(settings: Any, job_id: str, **kwargs: Any) -> dict[str, Any]:
    """Crawl pages of a distributed job in this process until it is finished or idle
    (:func:`copyseal.crawl._redis_crawl.run_session`; loads Scrapy and scrapy-redis)."""
    from copyseal.crawl._redis_crawl import run_session as run

    return run(settings, job_id, **kwargs)
