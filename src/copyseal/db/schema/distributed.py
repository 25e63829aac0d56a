"""Distributed crawling's tables: jobs that workers share, workers, page leases, seal tasks.

The crawl frontier of a distributed job lives in Redis (scrapy-redis), but the database
stays the record of truth: ``crawl_pages`` says which pages are done, and these tables say
who is working on what, so that a worker killed with SIGKILL loses nothing.

- ``distributed_jobs``: the crawl jobs that ``copyseal worker`` processes take pages of.
- ``crawl_workers``: each worker process and its heartbeat (``seen_at``); a worker whose
  heartbeat is older than the lease time is dead, and its leases and claims are free.
- ``crawl_leases``: the page a worker is fetching now (one row per page in flight), with
  how many times the page was taken (``attempts``: a page that kills its worker every
  time is recorded as an error after a bounded number of attempts, never retried
  forever).
- ``seal_tasks``: a page with matches to capture and seal, claimed by one worker at a
  time (``SELECT … FOR UPDATE SKIP LOCKED``), with its attempts and last error.

Migration ``0014_distributed`` creates the same tables (a test compares them).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from copyseal.db.base import Base

__all__ = ["CrawlLease", "CrawlWorker", "DistributedJob", "SealTask"]


class DistributedJob(Base):
    """A crawl job enqueued for workers (``copyseal crawl --distributed``)."""

    __tablename__ = "distributed_jobs"

    job_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("crawl_jobs.job_id", ondelete="CASCADE"), primary_key=True
    )
    enqueued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: The worker running the job's seeding (its spider's ``seeds()``), and when the
    #: seeds were queued (null: not yet; a dead seeding worker's turn passes on).
    seeding_worker: Mapped[str | None] = mapped_column(String(40))
    seeded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Capture and seal its pages with matches (``--capture/--no-capture``); null: as each
    #: worker's ``capture.on_match`` says.
    capture: Mapped[bool | None]


class CrawlWorker(Base):
    """A ``copyseal worker`` process: where it runs and when it was last seen alive."""

    __tablename__ = "crawl_workers"

    worker_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    host: Mapped[str] = mapped_column(Text)
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: What it does now: ``idle``, ``crawl JOB`` or ``seal JOB``.
    activity: Mapped[str | None] = mapped_column(Text)


class CrawlLease(Base):
    """A page of a distributed job in flight at one worker."""

    __tablename__ = "crawl_leases"

    job_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("crawl_jobs.job_id", ondelete="CASCADE"), primary_key=True
    )
    url_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    worker_id: Mapped[str | None] = mapped_column(String(40))
    leased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class SealTask(Base):
    """A page of a distributed job whose matches are to be captured and sealed.

    ``state``: ``pending``, ``claimed`` (by ``worker_id`` at ``claimed_at``), ``done`` or
    ``failed`` (``error`` says why; after too many attempts it is not tried again).
    """

    __tablename__ = "seal_tasks"
    __table_args__ = (
        UniqueConstraint("job_id", "page_key"),
        Index("ix_seal_tasks_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("crawl_jobs.job_id", ondelete="CASCADE")
    )
    page_key: Mapped[str] = mapped_column(String(64))
    page_url: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(40))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
