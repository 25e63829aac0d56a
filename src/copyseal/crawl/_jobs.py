"""Crawl jobs as the library and the CLI see them: start, resume, list, matches."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from copyseal import times
from copyseal.crawl._job_progress import distributed_progress
from copyseal.crawl._report import CrawlReasons, crawl_reasons
from copyseal.crawl._spec import DEFAULT_MATCHER, JobSpec
from copyseal.crawl._store import JobStore
from copyseal.db.schema.crawl import CrawlJob, CrawlMatch
from copyseal.errors import CrawlError
from copyseal.netpolicy import AddressPolicy
from copyseal.workspace import Workspace

__all__ = [
    "CrawlSummary",
    "MatchRecord",
    "enqueue_crawl",
    "job_policy",
    "list_jobs",
    "list_matches",
    "resume_crawl",
    "start_crawl",
]

#: Scrapy statistics kept in a job summary (the rest stays in the job row).
_STATS = (
    "downloader/request_count",
    "downloader/response_count",
    "downloader/exception_count",
    "item_scraped_count",
    "finish_reason",
    "elapsed_time_seconds",
    # Errors Scrapy only logged (a database restarted mid-crawl fails a page's callback or
    # item; the job then stops with pages queued): counted here so that the summary shows
    # that something failed, not only that pages were left.
    "spider_exceptions/count",
    "log_count/ERROR",
    "robotstxt/forbidden",
    "playwright/page_count",
    "playwright/request_count",
    # Render mode: browser contexts opened, and retired ones closed (copyseal.crawl._contexts).
    "playwright/context_count",
    "copyseal/render_contexts_closed",
    # Render mode: the browser's requests the egress proxy refused (address policy).
    "copyseal/egress_refused",
    "copyseal/egress_refused_targets",
)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True, kw_only=True)
class MatchRecord:
    """A stored match: a registered work shown on a page."""

    match_id: int
    job_id: str
    page_url: str
    image_url: str
    work_id: str
    score: float
    location: dict[str, Any]
    detail: dict[str, Any]
    found_at: datetime
    bundle_id: str | None = None
    #: The licence that covers this use (None: none does; see :mod:`copyseal.licences`).
    licence: str | None = None

    @classmethod
    def from_row(cls, row: CrawlMatch) -> MatchRecord:
        return cls(
            match_id=row.id,
            bundle_id=row.bundle_id,
            licence=row.licence,
            job_id=row.job_id,
            page_url=row.page_url,
            image_url=row.image_url,
            work_id=row.work_id,
            score=row.score,
            location=json.loads(row.location),
            detail=json.loads(row.detail),
            found_at=row.found_at,
        )

    def to_json(self) -> dict[str, Any]:
        """The ``matches`` entries of ``copyseal crawl --json`` and ``copyseal matches``."""
        return {
            "match_id": self.match_id,
            "job_id": self.job_id,
            "page_url": self.page_url,
            "image_url": self.image_url,
            "work_id": self.work_id,
            "score": round(self.score, 4),
            "location": self.location,
            "method": self.detail.get("method"),
            # Kept, altered or removed rights fields (None: not read for this match).
            "rights_metadata": self.detail.get("rights_metadata"),
            "bundle": self.bundle_id,
            "found_at": times.iso(self.found_at),
            "licence": self.licence,
        }


@dataclass(frozen=True, kw_only=True)
class CrawlSummary:
    """A job, its counts, and (for one job's report) its matches."""

    job_id: str
    status: str
    target: str
    spider: str
    render: bool
    urls: tuple[str, ...]
    robots_override: str | None
    counts: dict[str, dict[str, int]]
    stats: dict[str, Any]
    runs: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    matches: tuple[MatchRecord, ...] = ()
    #: Why pages and images are not done, and the links not followed.
    reasons: CrawlReasons = field(default_factory=CrawlReasons)
    #: A distributed job's progress across workers (None: a single-process job; see
    #: :func:`~copyseal.crawl._job_progress.distributed_progress`).
    distributed: dict[str, Any] | None = None

    @classmethod
    def load(
        cls, store: JobStore, job_id: str, *, with_matches: bool, lease_seconds: float = 30.0
    ) -> CrawlSummary:
        """The job's summary; ``lease_seconds`` (``distributed.lease_seconds``, whose
        default is 30) tells which workers of a distributed job are alive."""
        job: CrawlJob = store.job(job_id)
        status = job.status
        # A distributed job runs with no pid of its own (its workers' leases say who works).
        if status == "running" and job.pid is not None and not _alive(job.pid):
            status = "interrupted"
        stats = json.loads(job.stats or "{}")
        spec = JobSpec.loads(job.spec)
        return cls(
            job_id=job.job_id,
            status=status,
            target=job.target,
            spider=job.spider,
            render=job.render,
            urls=spec.urls,
            robots_override=job.robots_override,
            counts=store.counts(job_id),
            reasons=crawl_reasons(store.engine, job_id),
            stats={k: stats[k] for k in _STATS if k in stats},
            runs=job.runs,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            distributed=distributed_progress(store.engine, job_id, lease_seconds=lease_seconds),
            matches=tuple(MatchRecord.from_row(m) for m in store.matches([job_id]))
            if with_matches
            else (),
        )

    def to_json(self) -> dict[str, Any]:
        """The ``copyseal crawl --json`` document (``matches`` omitted in listings)."""
        pages = self.counts["pages"]
        return {
            "job_id": self.job_id,
            "status": self.status,
            "target": self.target,
            "spider": self.spider,
            "render": self.render,
            "urls": list(self.urls),
            "robots_override": self.robots_override,
            "pages": sum(n for s, n in pages.items() if s != "queued"),
            "images": sum(self.counts["images"].values()),
            "page_status": pages,
            "image_status": self.counts["images"],
            "match_count": self.counts["matches"]["total"],
            "matches": [m.to_json() for m in self.matches],
            **self.reasons.to_json(),
            "stats": self.stats,
            "runs": self.runs,
            "created_at": times.iso(self.created_at),
            "started_at": times.iso(self.started_at),
            "finished_at": times.iso(self.finished_at),
            "distributed": self.distributed,
        }


def start_crawl(
    workspace: Workspace, spec: JobSpec, *, matcher: str = DEFAULT_MATCHER, progress: bool = False
) -> CrawlSummary:
    """Create a job for ``spec`` and run it to its end in this process."""
    from copyseal.crawl._runner import run_job  # Scrapy: not for the listings here
    from copyseal.licences import settle_job

    store = JobStore(workspace.engine)
    job_id = store.create_job(spec)
    run_job(workspace.settings, store, job_id, matcher=matcher, progress=progress)
    settle_job(workspace, job_id)
    return CrawlSummary.load(store, job_id, with_matches=True)


def enqueue_crawl(
    workspace: Workspace, spec: JobSpec, *, capture: bool | None = None
) -> CrawlSummary:
    """Create a distributed job (``queued``) for ``copyseal worker`` processes to crawl,
    and return it at once (see :mod:`copyseal.crawl.distributed`). ``capture``: the
    workers seal its pages with matches (None: as their ``capture.on_match`` says)."""
    from copyseal.crawl.distributed import enqueue_job

    store = JobStore(workspace.engine)
    job_id = enqueue_job(workspace.engine, spec, capture=capture)
    lease = workspace.settings.distributed.lease_seconds
    return CrawlSummary.load(store, job_id, with_matches=False, lease_seconds=lease)


def resume_crawl(
    workspace: Workspace,
    job_id: str,
    *,
    matcher: str = DEFAULT_MATCHER,
    progress: bool = False,
    allow_finished: bool = False,
) -> CrawlSummary:
    """Continue a stopped, failed or killed job where it was: done pages are not fetched
    again, and no match is lost or duplicated.

    With ``allow_finished``, a finished job is not an error: its report is returned (the
    caller may still have work to do for it, such as sealing its matches).

    Raises:
        CrawlError: no such job, it is finished, or it is still running.
    """
    from copyseal.crawl._runner import run_job
    from copyseal.licences import settle_job

    store = JobStore(workspace.engine)
    job = store.job(job_id)
    if job.status == "running" and _alive(job.pid) and job.pid != os.getpid():
        raise CrawlError(f"crawl {job_id} is still running (pid {job.pid})")
    if job.status == "finished" and not store.pending(job_id):
        if allow_finished:
            settle_job(workspace, job_id)
            return CrawlSummary.load(store, job_id, with_matches=True)
        raise CrawlError(f"crawl {job_id} is finished; nothing to resume")
    run_job(workspace.settings, store, job_id, matcher=matcher, progress=progress)
    settle_job(workspace, job_id)
    return CrawlSummary.load(store, job_id, with_matches=True)


def crawl_summary(workspace: Workspace, job_id: str) -> CrawlSummary:
    """One job's report, with its matches."""
    lease = workspace.settings.distributed.lease_seconds
    return CrawlSummary.load(
        JobStore(workspace.engine), job_id, with_matches=True, lease_seconds=lease
    )


def job_policy(workspace: Workspace, job_id: str) -> AddressPolicy:
    """The address policy of crawl ``job_id`` (its allowances plus
    ``crawl.allow_networks``): the capture of its matched pages obeys the same rules."""
    return JobStore(workspace.engine).spec(job_id).policy(workspace.settings)


def list_jobs(workspace: Workspace) -> list[CrawlSummary]:
    """Every crawl job, oldest first, with its counts."""
    store = JobStore(workspace.engine)
    lease = workspace.settings.distributed.lease_seconds
    return [
        CrawlSummary.load(store, j.job_id, with_matches=False, lease_seconds=lease)
        for j in store.jobs()
    ]


def list_matches(workspace: Workspace, *, job_id: str | None = None) -> list[MatchRecord]:
    """Stored matches (of one job, or of all), in the order they were found."""
    store = JobStore(workspace.engine)
    if job_id is not None:
        store.job(job_id)
    rows = store.matches([job_id] if job_id is not None else None)
    return [MatchRecord.from_row(r) for r in rows]
