"""A distributed job's progress across workers in ``crawls --json`` (the ``distributed``
object): pages in flight at live workers, the workers on the job, seal tasks by state and
their errors (on SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from copyseal import times
from copyseal.crawl import FrontierEntry, JobSpec, list_jobs
from copyseal.crawl._store import JobStore
from copyseal.crawl.distributed import Frontier, enqueue_job, mark_seeded
from copyseal.db.schema.distributed import CrawlWorker
from copyseal.pipeline._claims import SealClaims
from copyseal.registry import register_paths
from copyseal.workspace import Workspace

#: The keys of a job in ``crawls --json`` before ``distributed`` was added (a public
#: contract: keys are only ever added).
_KEYS = {
    "job_id",
    "status",
    "target",
    "spider",
    "render",
    "urls",
    "robots_override",
    "pages",
    "images",
    "page_status",
    "image_status",
    "match_count",
    "page_reasons",
    "page_reason_examples",
    "image_reasons",
    "image_reason_examples",
    "links_not_followed",
    "links_not_followed_examples",
    "stats",
    "runs",
    "created_at",
    "started_at",
    "finished_at",
}


def _worker(ws: Workspace, name: str, *, max_attempts: int = 3) -> tuple[Frontier, SealClaims]:
    worker_id = f"{name}-{uuid.uuid4().hex[:6]}"
    f = Frontier(engine=ws.engine, worker_id=worker_id, lease_seconds=30, max_attempts=3)
    f.register()
    claims = SealClaims(
        engine=ws.engine, worker_id=worker_id, lease_seconds=30, max_attempts=max_attempts
    )
    return f, claims


def _dies(ws: Workspace, f: Frontier) -> None:
    with ws.engine.begin() as conn:
        conn.execute(
            update(CrawlWorker)
            .where(CrawlWorker.worker_id == f.worker_id)
            .values(seen_at=times.now() - timedelta(minutes=1))
        )


def _listing(ws: Workspace) -> dict[str, dict[str, object]]:
    return {j.job_id: j.to_json() for j in list_jobs(ws)}


def test_crawls_json_shows_a_distributed_jobs_progress_across_workers(
    workspace: Workspace, photo_files: dict[str, Path]
) -> None:
    ws = workspace
    [work] = list(register_paths(ws, [photo_files["chelsea"]]))
    store = JobStore(ws.engine)
    single = store.create_job(JobSpec(target="one", urls=("http://b/",)))
    job = enqueue_job(ws.engine, JobSpec(target="t", urls=("http://a/",)))
    pages = [f"http://a/{n}" for n in range(1, 6)]
    store.add_pages(job, [FrontierEntry(url=u, kind="page", depth=1) for u in pages], max_pages=9)
    mark_seeded(ws.engine, job)
    for n, page in enumerate(pages[:2]):  # pages 1 and 2: done, each with a match
        store.record_image(
            job,
            page_url=page,
            image_url=f"http://a/x{n}.jpg",
            sha256=f"{n:02d}".ljust(64, "0"),
            size=1,
            fmt="JPEG",
            status="ok",
            reason=None,
            outcome=[{"work_id": work.work_id, "score": 0.9}],  # type: ignore[union-attr]
            location={},
        )
        store.finish_page(job, page, status="done", http_status=200, images=1)
    store.finish_page(job, pages[4], status="error", reason="boom", reason_code="other")

    a, a_claims = _worker(ws, "a")
    b, _ = _worker(ws, "b")
    _, c_claims = _worker(ws, "c", max_attempts=1)
    assert a.take(job, pages[2]) == "fetch"  # page 3 in flight at a live worker
    assert b.take(job, pages[3]) == "fetch"
    _dies(ws, b)  # page 4 was in flight at a worker killed since: free, not in flight
    assert a_claims.sync(capture=True) == 2
    held = a_claims.claim()
    assert held is not None
    tried = c_claims.claim()
    assert tried is not None and tried.page_url != held.page_url
    c_claims.failed(tried, "browser crashed")  # out of attempts (1): failed

    listing = _listing(ws)
    assert set(listing[single]) >= _KEYS and set(listing[job]) >= _KEYS
    assert listing[single]["distributed"] is None  # a single-process job
    d = listing[job]["distributed"]
    assert isinstance(d, dict)
    assert d["pages_in_flight"] == 1
    assert [(w["worker_id"], w["pages_in_flight"], w["seals_claimed"]) for w in d["workers"]] == [
        (a.worker_id, 1, 1)
    ]  # b is dead; c is alive but holds nothing of this job
    assert d["seal_tasks"] == {"pending": 0, "claimed": 1, "done": 0, "failed": 1}
    assert d["seal_errors"] == [{"page_url": tried.page_url, "error": "browser crashed"}]
    assert d["errors"] == {"pages": 1, "seals": 1}
    assert d["enqueued_at"] is not None and d["seeded_at"] is not None
    assert listing[job]["page_status"] == {"done": 2, "queued": 2, "error": 1}
    assert listing[job]["match_count"] == 2

    a.stopped()  # a worker that stops releases its pages at once
    a_claims.release_all()
    d = _listing(ws)[job]["distributed"]
    assert isinstance(d, dict)
    assert d["pages_in_flight"] == 0 and d["workers"] == []
    assert d["seal_tasks"] == {"pending": 1, "claimed": 0, "done": 0, "failed": 1}
