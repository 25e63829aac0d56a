"""Seal tasks of distributed jobs: one task per page, claimed by one live worker at a
time (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), taken over when its worker dies, given
up after ``max_attempts`` (on SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from copyseal import times
from copyseal.crawl import FrontierEntry, JobSpec
from copyseal.crawl._store import JobStore
from copyseal.crawl.distributed import Frontier, enqueue_job, mark_seeded
from copyseal.db.schema.distributed import CrawlWorker, SealTask
from copyseal.pipeline._claims import SealClaims
from copyseal.registry import register_paths
from copyseal.workspace import Workspace


def _claims(ws: Workspace, name: str) -> SealClaims:
    worker_id = f"{name}-{uuid.uuid4().hex[:6]}"
    Frontier(engine=ws.engine, worker_id=worker_id, lease_seconds=30, max_attempts=2).register()
    return SealClaims(engine=ws.engine, worker_id=worker_id, lease_seconds=30, max_attempts=2)


def _dies(ws: Workspace, claims: SealClaims) -> None:
    with ws.engine.begin() as conn:
        conn.execute(
            update(CrawlWorker)
            .where(CrawlWorker.worker_id == claims.worker_id)
            .values(seen_at=times.now() - timedelta(minutes=1))
        )


def _job_with_matches(ws: Workspace, photo: Path, *, capture: bool | None = None) -> str:
    [work] = list(register_paths(ws, [photo]))
    job = enqueue_job(ws.engine, JobSpec(target="t", urls=("http://a/",)), capture=capture)
    store = JobStore(ws.engine)
    pages = ["http://a/1", "http://a/2", "http://a/3"]
    store.add_pages(job, [FrontierEntry(url=u, kind="page", depth=0) for u in pages], max_pages=9)
    mark_seeded(ws.engine, job)
    for n, page in enumerate(pages):
        for image in ("x", "y"):  # two matches on each page: still one task per page
            store.record_image(
                job,
                page_url=page,
                image_url=f"http://a/{image}{n}.jpg",
                sha256=f"{n:02d}{image}".ljust(64, "0"),
                size=1,
                fmt="JPEG",
                status="ok",
                reason=None,
                outcome=[{"work_id": work.work_id, "score": 0.9}],  # type: ignore[union-attr]
                location={},
            )
    for page in pages[:2]:  # page 3 is still being crawled: its matches may grow
        store.finish_page(job, page, status="done", http_status=200)
    return job


def test_one_task_per_done_page_and_one_claim_per_task(
    workspace: Workspace, photo_files: dict[str, Path]
) -> None:
    _job_with_matches(workspace, photo_files["chelsea"])
    a, b = _claims(workspace, "a"), _claims(workspace, "b")
    assert a.sync(capture=True) == 2
    assert b.sync(capture=True) == 0  # a second worker adds none twice
    first, second = a.claim(), b.claim()
    assert first is not None and second is not None
    assert {first.page_url, second.page_url} == {"http://a/1", "http://a/2"}
    assert a.claim() is None and b.claim() is None  # both are held
    a.done(first)
    b.failed(second, "browser crashed")  # retried: it has attempts left
    again = a.claim()
    assert again is not None and (again.page_url, again.attempt) == (second.page_url, 2)
    a.failed(again, "browser crashed")  # out of attempts (max 2): failed, skipped
    assert a.claim() is None
    with workspace.engine.connect() as conn:
        states = dict(conn.execute(select(SealTask.page_url, SealTask.state)).all())
    assert states == {first.page_url: "done", second.page_url: "failed"}


def test_a_dead_workers_claim_is_taken_over(
    workspace: Workspace, photo_files: dict[str, Path]
) -> None:
    _job_with_matches(workspace, photo_files["chelsea"])
    a, b = _claims(workspace, "a"), _claims(workspace, "b")
    a.sync(capture=True)
    held = [a.claim(), a.claim()]
    assert all(held) and b.claim() is None
    _dies(workspace, a)  # kill -9 mid-seal: its heartbeat stops
    taken = b.claim()
    assert taken is not None and taken.attempt == 2
    assert taken.page_url == held[0].page_url  # type: ignore[union-attr]


def test_jobs_enqueued_without_capture_are_not_sealed(
    workspace: Workspace, photo_files: dict[str, Path]
) -> None:
    _job_with_matches(workspace, photo_files["chelsea"], capture=False)
    a = _claims(workspace, "a")
    assert a.sync(capture=True) == 0 and a.claim() is None
