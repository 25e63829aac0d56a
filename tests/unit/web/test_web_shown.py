"""The app over HTTP after a match's row was pointed at another genuine bundle with SQL:
the match page and the API say "verification FAILED" and why."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from copyseal.db.schema.crawl import CrawlMatch
from copyseal.review.queue import queue

pytestmark = pytest.mark.browser  # the shared world is crawled and captured with Chromium


def test_a_match_row_pointed_at_another_bundle_shows_failed_with_the_reason(
    site: Any, login: Any
) -> None:
    ws = site[1]
    items = [i for i in queue(ws).items if i.bundle_id]
    a = items[0]
    b = next(i for i in items if i.page_url != a.page_url and i.bundle_id != a.bundle_id)
    c, _ = login("rita")
    before = c.get(f"/matches/{a.match_id}")
    assert before.status_code == 200 and "verified against the ledger now" in before.text
    assert c.get(f"/api/matches/{a.match_id}/verification").json()["ok"] is True
    with ws.engine.begin() as conn:
        conn.execute(
            update(CrawlMatch).where(CrawlMatch.id == a.match_id).values(bundle_id=b.bundle_id)
        )
    page = c.get(f"/matches/{a.match_id}")
    assert page.status_code == 200
    assert "verification FAILED" in page.text and "verified against the ledger now" not in page.text
    assert "<b>record</b>: the page shown is" in page.text
    doc = c.get(f"/api/matches/{a.match_id}/verification").json()
    assert doc["ok"] is False
    record = next(x for x in doc["checks"] if x["name"] == "record")
    assert record["ok"] is False and b.page_url in record["detail"]
