"""The shared state of distributed crawls: jobs, seeding, page leases, lost pages, the
Redis frontier's request format (on SQLite and PostgreSQL; real Redis for the queue)."""

from __future__ import annotations

import pickle
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from copyseal import times
from copyseal.crawl import FrontierEntry, JobSpec
from copyseal.crawl._store import JobStore
from copyseal.crawl.distributed import (
    GAVE_UP,
    Frontier,
    connect_redis,
    dupefilter_key,
    enqueue_job,
    mark_seeded,
    push_entries,
    queue_key,
)
from copyseal.db.schema.distributed import CrawlWorker
from copyseal.workspace import Workspace


def _frontier(ws: Workspace, name: str, attempts: int = 3) -> Frontier:
    f = Frontier(
        engine=ws.engine,
        worker_id=f"{name}-{uuid.uuid4().hex[:6]}",
        lease_seconds=30,
        max_attempts=attempts,
    )
    f.register()
    return f


def _dies(ws: Workspace, f: Frontier) -> None:
    """The worker's heartbeat stops (as after kill -9): last seen a minute ago."""
    with ws.engine.begin() as conn:
        conn.execute(
            update(CrawlWorker)
            .where(CrawlWorker.worker_id == f.worker_id)
            .values(seen_at=times.now() - timedelta(minutes=1))
        )


def _seeded_job(ws: Workspace, urls: list[str]) -> str:
    job = enqueue_job(ws.engine, JobSpec(target="t", urls=("http://a/",)))
    JobStore(ws.engine).add_pages(
        job, [FrontierEntry(url=u, kind="page", depth=1) for u in urls], max_pages=100
    )
    mark_seeded(ws.engine, job)
    return job


def test_a_job_is_queued_then_seeded_by_one_worker_only(workspace: Workspace) -> None:
    job = enqueue_job(workspace.engine, JobSpec(target="t", urls=("http://a/",)))
    assert JobStore(workspace.engine).job(job).status == "queued"
    a, b = _frontier(workspace, "a"), _frontier(workspace, "b")
    assert [(w.job_id, w.unseeded) for w in a.jobs_with_work()] == [(job, True)]
    assert a.claim_seeding(job) and not b.claim_seeding(job)
    assert JobStore(workspace.engine).job(job).status == "running"
    assert not a.is_finished(job)  # not seeded yet: no page does not mean done
    _dies(workspace, a)  # the seeding worker is killed before its seeds are queued
    assert b.claim_seeding(job)
    mark_seeded(workspace.engine, job)
    assert b.is_finished(job) and b.finish(job) and not a.finish(job)
    assert JobStore(workspace.engine).job(job).status == "finished"
    assert b.jobs_with_work() == []


def test_a_page_is_leased_by_one_live_worker_and_never_fetched_once_done(
    workspace: Workspace,
) -> None:
    job = _seeded_job(workspace, ["http://a/1", "http://a/2"])
    a, b = _frontier(workspace, "a"), _frontier(workspace, "b")
    assert a.take(job, "http://a/1") == "fetch"
    assert a.take(job, "http://a/1") == "held"  # a second copy of the request
    assert b.take(job, "http://a/1") == "held"
    assert a.in_flight(job) == 1
    assert [e.url for e in b.lost(job)] == ["http://a/2"]
    JobStore(workspace.engine).finish_page(job, "http://a/1", status="done", http_status=200)
    a.release(job, "http://a/1")
    assert b.take(job, "http://a/1") == "done"
    assert not a.finish(job)  # page 2 is still queued
    assert b.take(job, "http://a/2") == "fetch"
    _dies(workspace, b)  # killed with page 2 in flight: it is lost, and a takes it over
    assert [e.url for e in a.lost(job)] == ["http://a/2"]
    assert a.take(job, "http://a/2") == "fetch"


def test_a_page_that_kills_its_workers_is_given_up_after_max_attempts(
    workspace: Workspace,
) -> None:
    job = _seeded_job(workspace, ["http://a/poison"])
    for n in range(3):
        w = _frontier(workspace, f"w{n}")
        assert w.take(job, "http://a/poison") == "fetch"
        _dies(workspace, w)
    last = _frontier(workspace, "last")
    assert last.take(job, "http://a/poison") == "gave-up"
    store = JobStore(workspace.engine)
    assert store.counts(job)["pages"] == {"error": 1}
    assert last.finish(job)  # a page given up is recorded: the job can finish
    from copyseal.crawl import crawl_summary

    reasons = crawl_summary(workspace, job).reasons.to_json()
    assert reasons["page_reasons"] == {"error": {GAVE_UP: 1}}


def test_stopping_releases_the_leases_at_once(workspace: Workspace) -> None:
    job = _seeded_job(workspace, ["http://a/1"])
    a, b = _frontier(workspace, "a"), _frontier(workspace, "b")
    assert a.take(job, "http://a/1") == "fetch"
    a.stopped()
    assert b.take(job, "http://a/1") == "fetch"


@pytest.fixture
def redis_client() -> Any:
    client = connect_redis("redis://127.0.0.1:6379/0")
    try:
        client.ping()
    except Exception as e:  # no Redis here
        pytest.skip(f"Redis not reachable: {e}")
    return client


def test_lost_pages_are_pushed_again_only_when_the_queue_is_empty(
    workspace: Workspace, redis_client: Any
) -> None:
    job = _seeded_job(workspace, ["http://a/1", "http://a/2"])
    a = _frontier(workspace, "a")
    try:
        assert a.take(job, "http://a/1") == "fetch"
        assert a.requeue_lost(redis_client, job) == 1  # page 2: queued, in no one's hands
        assert a.requeue_lost(redis_client, job) == 0  # it waits in Redis: not lost
        (data,) = redis_client.zrange(queue_key(job), 0, -1)
        request = pickle.loads(data)
        assert request["url"] == "http://a/2" and request["callback"] == "parse_page"
        assert request["errback"] == "page_failed" and request["dont_filter"] is True
        assert request["meta"]["copyseal_depth"] == 1 and request["priority"] == -1
        push_entries(
            redis_client, job, [FrontierEntry(url="http://a/map.xml", kind="sitemap", depth=0)]
        )
        first = pickle.loads(redis_client.zrange(queue_key(job), 0, 0)[0])
        assert first["callback"] == "parse_sitemap"  # sitemaps first, as in one process
    finally:
        redis_client.delete(queue_key(job), dupefilter_key(job))


def test_a_redis_password_never_appears_in_messages() -> None:
    from copyseal.crawl.distributed import redact_url

    assert redact_url("redis://:s3cret@cache:6380/2") == "redis://:***@cache:6380/2"
    assert "pw" not in redact_url("rediss://user:pw@cache/0")
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
