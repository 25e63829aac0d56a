"""A crawl's rows are written in batches that keep the order a resumed crawl relies on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from copyseal import times
from copyseal.crawl import FrontierEntry, JobSpec
from copyseal.crawl._records import RecordBatch, image_rows, page_row
from copyseal.crawl._store import JobStore, url_key
from copyseal.registry import register_paths
from copyseal.workspace import Workspace


def _image(job: str, page_url: str, image_url: str, **over: Any) -> tuple[dict[str, Any], Any]:
    fields: dict[str, Any] = {
        "sha256": "ab" * 32,
        "size": 10,
        "fmt": "JPEG",
        "status": "ok",
        "reason": None,
        "reason_code": None,
        "outcome": [],
        "location": {"selector": "img"},
        "classify": None,
        **over,
    }
    return image_rows(
        job,
        image_key=url_key(image_url),
        page_key=lambda: url_key(page_url),
        page_url=page_url,
        image_url=image_url,
        now=times.now(),
        **fields,
    )


def _done(job: str, url: str, images: int) -> dict[str, Any]:
    return page_row(
        job,
        url_key(url),
        status="done",
        http_status=200,
        reason=None,
        reason_code=None,
        final_url=url,
        images=images,
        now=times.now(),
    )


def _job(workspace: Workspace, *urls: str) -> tuple[JobStore, str]:
    store = JobStore(workspace.engine)
    job = store.create_job(JobSpec(target="t", urls=urls))
    store.add_pages(job, [FrontierEntry(url=u, kind="page", depth=0) for u in urls], max_pages=10)
    return store, job


def test_rows_wait_until_the_flush_then_land_in_order(workspace: Workspace) -> None:
    store, job = _job(workspace, "https://a/1", "https://a/2")
    batch = RecordBatch(engine=workspace.engine, max_pages=2, max_delay=3600)
    batch.add_image(*_image(job, "https://a/1", "https://cdn/x.jpg"))
    batch.add_page(_done(job, "https://a/1", 1))
    # The second page shows the same image later: its row (without size or format, as a
    # page that got the fetcher's summary stores it) comes after the first and is ignored.
    batch.add_image(*_image(job, "https://a/2", "https://cdn/x.jpg", size=None, fmt=None))
    assert not batch.due()  # one page of two
    assert store.counts(job)["pages"] == {"queued": 2}  # nothing written yet: a crash
    assert store.processed_images(job) == ({}, {})  # here leaves both pages to be redone
    batch.add_page(_done(job, "https://a/2", 1))
    assert batch.due()
    assert batch.flush() == 0
    assert len(batch) == 0
    assert store.counts(job) == {
        "pages": {"done": 2},
        "images": {"ok": 1},
        "matches": {"total": 0},
    }
    with workspace.engine.connect() as conn:
        [(size, fmt)] = conn.exec_driver_sql("SELECT size, format FROM crawl_images").all()
    assert (size, fmt) == (10, "JPEG")


def test_new_matches_are_counted_once(workspace: Workspace, photo_files: dict[str, Path]) -> None:
    [work] = list(register_paths(workspace, [photo_files["chelsea"]]))
    store, job = _job(workspace, "https://a/1")
    outcome = [{"work_id": work.work_id, "score": 0.9, "method": "geometric"}]  # type: ignore[union-attr]
    batch = RecordBatch(engine=workspace.engine, max_pages=1, max_delay=3600)
    batch.add_image(*_image(job, "https://a/1", "https://cdn/x.jpg", outcome=outcome))
    batch.add_image(*_image(job, "https://a/1", "https://cdn/x.jpg", outcome=outcome))
    assert batch.flush() == 1
    batch.add_image(*_image(job, "https://a/1", "https://cdn/x.jpg", outcome=outcome))
    assert batch.flush() == 0
    assert batch.new_matches == 1
    assert [(m.page_url, m.work_id) for m in store.matches([job])] == [
        ("https://a/1", work.work_id)  # type: ignore[union-attr]
    ]


def test_a_batch_is_written_whole_or_not_at_all_and_kept_for_the_next_flush(
    workspace: Workspace,
) -> None:
    store, job = _job(workspace, "https://a/1")
    batch = RecordBatch(engine=workspace.engine, max_pages=1, max_delay=3600)
    batch.add_image(*_image(job, "https://a/1", "https://cdn/ok.jpg"))
    batch.add_image(*_image(job, "https://a/1", "https://cdn/bad.jpg", status=None))
    batch.add_page(_done(job, "https://a/1", 2))
    with pytest.raises(IntegrityError):
        batch.flush()
    assert len(batch) == 3  # kept, in order
    assert store.counts(job)["pages"] == {"queued": 1}  # the page is still to be done
    assert store.processed_images(job) == ({}, {})  # and no image row came before it


def test_a_batch_is_due_when_its_oldest_row_is_old(workspace: Workspace) -> None:
    _, job = _job(workspace, "https://a/1")
    batch = RecordBatch(engine=workspace.engine, max_pages=100, max_delay=0.0)
    assert not batch.due()  # nothing waits
    batch.add_image(*_image(job, "https://a/1", "https://cdn/x.jpg"))
    assert batch.due()
    assert batch.flush() == 0
    assert not batch.due()
