from __future__ import annotations

from pathlib import Path

from copyseal.crawl import FrontierEntry, JobSpec
from copyseal.crawl._store import JobStore, url_key
from copyseal.registry import register_paths
from copyseal.workspace import Workspace


def page(url: str, depth: int = 0, kind: str = "page") -> FrontierEntry:
    return FrontierEntry(url=url, kind=kind, depth=depth)


def test_frontier_dedupes_canonical_urls_and_respects_max_pages(workspace: Workspace) -> None:
    store = JobStore(workspace.engine)
    job = store.create_job(JobSpec(target="t", urls=("https://a/",)))
    new = store.add_pages(
        job,
        [
            page("https://a/?b=2&a=1"),
            page("https://a/x#frag"),
            page("https://a/sitemap.xml", kind="sitemap"),
        ],
        max_pages=3,
    )
    assert len(new) == 3
    again = store.add_pages(
        job,
        [page("https://a/?a=1&b=2"), page("https://a/x"), page("https://a/y"), page("https://a/z")],
        max_pages=3,
    )
    assert [e.url for e in again] == ["https://a/y"]
    assert next(e.kind for e in store.pending(job)) == "sitemap"
    store.finish_page(job, "https://a/x", status="done", http_status=200, images=2)
    assert len(store.pending(job)) == 3
    assert store.counts(job)["pages"] == {"done": 1, "queued": 2}


def test_images_and_matches_are_never_duplicated(
    workspace: Workspace, photo_files: dict[str, Path]
) -> None:
    [work] = list(register_paths(workspace, [photo_files["chelsea"]]))
    store = JobStore(workspace.engine)
    job = store.create_job(JobSpec(target="t", urls=("https://a/",)))
    outcome = [{"work_id": work.work_id, "score": 0.9, "method": "geometric"}]  # type: ignore[union-attr]
    kwargs = dict(
        image_url="https://cdn/i.jpg",
        sha256="ab" * 32,
        size=10,
        fmt="JPEG",
        status="ok",
        reason=None,
        outcome=outcome,
        location={"selector": "img"},
    )
    assert store.record_image(job, page_url="https://a/1", **kwargs) == 1  # type: ignore[arg-type]
    assert store.record_image(job, page_url="https://a/1", **kwargs) == 0  # type: ignore[arg-type]
    assert store.record_image(job, page_url="https://a/2", **kwargs) == 1  # type: ignore[arg-type]
    matches = store.matches([job])
    assert [(m.page_url, m.work_id) for m in matches] == [
        ("https://a/1", work.work_id),  # type: ignore[union-attr]
        ("https://a/2", work.work_id),  # type: ignore[union-attr]
    ]
    by_url, by_sha = store.processed_images(job)
    assert by_url == {"https://cdn/i.jpg": ("ab" * 32, "ok", None)}
    assert by_sha == {"ab" * 32: outcome}


def test_job_runs_are_recorded(workspace: Workspace) -> None:
    store = JobStore(workspace.engine)
    job = store.create_job(
        JobSpec(target="t", urls=("https://a/",), robots_override_reason="x", obey_robots_txt=False)
    )
    store.start_run(job, 4242)
    row = store.job(job)
    assert (row.status, row.pid, row.runs, row.robots_override) == ("running", 4242, 1, "x")
    store.finish_run(job, "finished", {"finish_reason": "finished"})
    row = store.job(job)
    assert (row.status, row.pid, row.finished_at is not None) == ("finished", None, True)


def test_url_key_is_canonical() -> None:
    assert url_key("https://a/?b=2&a=1") == url_key("https://a/?a=1&b=2")
    assert url_key("https://a/x#one") == url_key("https://a/x")
    assert url_key("https://a/x") != url_key("https://a/y")
