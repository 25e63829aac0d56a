"""Licences in the review app: the work page, the match page and the queue's filter."""

from __future__ import annotations

from typing import Any

import pytest

from copyseal.licences import grant
from copyseal.review.decisions import record_licensed
from copyseal.review.queue import all_items

pytestmark = pytest.mark.browser  # the shared world is crawled and captured with Chromium


def test_licences_show_on_work_and_match_pages_and_filter_the_queue(site: Any, login: Any) -> None:
    ws = site[1]
    item = all_items(ws)[0]
    lic = grant(ws, item.work_id, licensee="Acme Pictures", domains=["acme.example"])
    c, _ = login("vera")

    work = c.get(f"/works/{item.work_id}")
    assert work.status_code == 200
    assert lic.licence_id in work.text and "Acme Pictures" in work.text
    assert c.get("/works/wnope").status_code == 404

    page = c.get(f"/matches/{item.match_id}")
    assert page.status_code == 200 and lic.licence_id in page.text
    api = c.get(f"/api/matches/{item.match_id}").json()
    assert api["licence"] is None and [x["licence_id"] for x in api["licences"]] == [lic.licence_id]

    assert c.get("/api/queue", params={"status": "licensed"}).json()["total"] == 0
    record_licensed(ws, [(item.match_id, lic.licence_id)])
    queue = c.get("/api/queue", params={"status": "licensed"}).json()
    assert [i["match_id"] for i in queue["items"]] == [item.match_id]
    assert queue["counts"]["licensed"] == 1
    html = c.get("/queue", params={"status": "licensed"}).text
    assert f"/matches/{item.match_id}?" in html and "licensed <b>1</b>" in html
