"""``copyseal crawl``'s word on stderr when errors, not a page limit, stopped a crawl."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from copyseal.cli.crawl import _say_if_errors_stopped_it
from copyseal.crawl import CrawlSummary


def _summary(status: str, stats: dict[str, Any], queued: int) -> CrawlSummary:
    return CrawlSummary(
        job_id="c0ffee",
        status=status,
        target="http://127.0.0.1/",
        spider="site",
        render=False,
        urls=("http://127.0.0.1/",),
        robots_override=None,
        counts={
            "pages": {"done": 3, "queued": queued},
            "images": {},
            "matches": {"total": 0},
        },
        stats=stats,
        runs=1,
        created_at=datetime(2026, 12, 5, tzinfo=UTC),
        started_at=None,
        finished_at=None,
    )


@pytest.mark.parametrize(
    ("status", "stats", "queued", "said"),
    [
        ("stopped", {"log_count/ERROR": 4}, 7, True),  # a database restarted mid-crawl
        ("stopped", {"spider_exceptions/count": 1}, 2, True),
        ("stopped", {}, 7, False),  # --max-pages: pages left, no error
        ("stopped", {"log_count/ERROR": 4}, 0, False),  # nothing left to resume
        ("finished", {"log_count/ERROR": 1}, 0, False),
    ],
)
def test_errors_that_stopped_a_crawl_are_said_with_the_resume_command(
    status: str, stats: dict[str, Any], queued: int, said: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    _say_if_errors_stopped_it(_summary(status, stats, queued))
    err = capsys.readouterr().err
    assert ("copyseal crawl --resume c0ffee" in err) is said
    if said:
        assert f"with {queued} page(s) left" in err
