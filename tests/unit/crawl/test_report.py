"""A job's reasons: pages and images not done by status and code, links never queued."""

from __future__ import annotations

from copyseal.crawl import FrontierEntry, JobSpec
from copyseal.crawl._jobs import crawl_summary
from copyseal.crawl._report import EXAMPLES, crawl_reasons
from copyseal.crawl._store import JobStore
from copyseal.workspace import Workspace


def page(url: str, depth: int = 0) -> FrontierEntry:
    return FrontierEntry(url=url, kind="page", depth=depth)


def test_pages_not_done_are_counted_by_status_and_code(workspace: Workspace) -> None:
    store = JobStore(workspace.engine)
    job = store.create_job(JobSpec(target="t", urls=("https://a/",)))
    urls = [f"https://a/{n}" for n in range(6)]
    store.add_pages(job, [page(u) for u in urls], max_pages=100)
    for u in urls[:4]:
        store.finish_page(
            job, u, status="not-found", http_status=404, reason="HTTP 404", reason_code="http-404"
        )
    store.finish_page(
        job, urls[4], status="skipped", reason="refused: ...", reason_code="private-address"
    )
    store.finish_page(job, urls[5], status="done", http_status=200)
    store.add_pages(job, [page("https://a/later")], max_pages=100)  # still queued
    reasons = crawl_reasons(workspace.engine, job)
    assert reasons.pages == {"not-found": {"http-404": 4}, "skipped": {"private-address": 1}}
    assert reasons.page_examples == {
        "not-found": {"http-404": urls[:EXAMPLES]},
        "skipped": {"private-address": [urls[4]]},
    }


def test_done_rows_appear_only_with_a_caveat_and_old_rows_read_as_other(
    workspace: Workspace,
) -> None:
    store = JobStore(workspace.engine)
    job = store.create_job(JobSpec(target="t", urls=("https://a/",)))
    store.add_pages(job, [page("https://a/1"), page("https://a/2")], max_pages=10)
    store.finish_page(
        job, "https://a/1", status="done", reason="network never settled", reason_code="not-settled"
    )
    store.finish_page(job, "https://a/2", status="error", reason="written before codes")
    for url, status, code in (
        ("https://cdn/ok.jpg", "ok", None),
        ("https://cdn/fake.jpg", "skipped", "not-an-image"),
    ):
        store.record_image(
            job,
            page_url="https://a/1",
            image_url=url,
            sha256=None,
            size=None,
            fmt=None,
            status=status,
            reason=None if code is None else "not an image (HTML)",
            reason_code=code,
            outcome=[],
            location={},
        )
    reasons = crawl_reasons(workspace.engine, job)
    assert reasons.pages == {"done": {"not-settled": 1}, "error": {"other": 1}}
    assert reasons.images == {"skipped": {"not-an-image": 1}}
    assert reasons.image_examples == {"skipped": {"not-an-image": ["https://cdn/fake.jpg"]}}


def test_links_passed_over_are_recorded_once_and_dropped_once_queued(
    workspace: Workspace,
) -> None:
    store = JobStore(workspace.engine)
    job = store.create_job(JobSpec(target="t", urls=("https://a/",)))
    queued = store.add_pages(
        job,
        [page("https://a/"), page("https://a/1"), page("https://a/2")],
        max_pages=2,
        passed_over=[
            (page("https://b.example/"), "off-site"),
            (page("https://a/deep", depth=3), "max-depth"),
        ],
        found_on="https://a/",
    )
    assert [e.url for e in queued] == ["https://a/", "https://a/1"]
    store.add_pages(
        job, [], max_pages=2, passed_over=[(page("https://b.example/"), "off-site")]
    )  # seen again: one row
    reasons = crawl_reasons(workspace.engine, job)
    assert reasons.links == {"off-site": 1, "max-depth": 1, "max-pages": 1}
    assert reasons.link_examples["max-pages"] == ["https://a/2"]
    # Found again within the limits (a shallower link): queued, so no longer "not followed".
    store.add_pages(job, [page("https://a/deep", depth=1)], max_pages=3)
    assert crawl_reasons(workspace.engine, job).links == {"off-site": 1, "max-pages": 1}


def test_the_summary_json_and_lines_carry_the_reasons(workspace: Workspace) -> None:
    store = JobStore(workspace.engine)
    job = store.create_job(JobSpec(target="t", urls=("http://127.0.0.1:8765/",)))
    store.add_pages(job, [page("http://127.0.0.1:8765/")], max_pages=10)
    store.finish_page(
        job,
        "http://127.0.0.1:8765/",
        status="skipped",
        reason="refused: host 127.0.0.1 resolves to non-public address 127.0.0.1",
        reason_code="private-address",
    )
    summary = crawl_summary(workspace, job)
    data = summary.to_json()
    assert data["page_status"] == {"skipped": 1}  # the existing field, unchanged
    assert data["page_reasons"] == {"skipped": {"private-address": 1}}
    assert data["page_reason_examples"] == {
        "skipped": {"private-address": ["http://127.0.0.1:8765/"]}
    }
    assert data["image_reasons"] == {} and data["links_not_followed"] == {}
    assert summary.reasons.lines() == [
        "1 page skipped: a private address (http://127.0.0.1:8765/);"
        " allow it with `--allow-private` (local test sites only)"
    ]
