"""The timeline pages over HTTP: a site's and a match's record with a server-made SVG
chart (no script), linked from the match and case pages."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from copyseal.db.schema.crawl import CrawlMatch
from copyseal.db.schema.record import MatchVisit
from copyseal.notices import load_sender, mark_sent, write_notice
from copyseal.review.queue import queue
from copyseal.times import now

pytestmark = pytest.mark.browser  # the shared world is crawled and captured with Chromium


@pytest.fixture(scope="module")
def visited(site: Any) -> list[int]:
    """Two re-visits of each localhost match: re-cropped, then removed."""
    ws = site[1]
    ids = [i.match_id for i in queue(ws).items if i.site == "localhost"]
    assert ids
    with Session(ws.engine) as s, s.begin():
        for match_id in ids:
            found = s.scalar(select(CrawlMatch.found_at).where(CrawlMatch.id == match_id))
            assert found is not None
            s.add_all(
                [
                    MatchVisit(
                        match_id=match_id, page_url="x", visited_at=found + timedelta(days=4),
                        result="changed", similarity=0.82,
                    ),
                    MatchVisit(
                        match_id=match_id, page_url="x", visited_at=found + timedelta(days=9),
                        result="removed",
                    ),
                ]
            )  # fmt: skip
    return ids


def test_site_timeline_page_draws_every_visit(site: Any, login: Any, visited: list[int]) -> None:
    c, _ = login("vera")
    page = c.get("/timeline/site/localhost")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert "<script>" not in html.split("</header>")[-1]  # nothing inline
    svg = html[html.index('<svg class="chart timeline"') : html.index("</svg>")]
    assert svg.count('class="visit"') == 3 * len(visited)  # capture + two re-visits each
    assert svg.count('class="in-use"') == len(visited)
    assert "#e69f00" in svg and "#777777" in svg  # changed, removed
    summary = re.search(r'<p id="summary">([^<]+)</p>', html)
    assert summary is not None
    assert summary.group(1).startswith("localhost: in use from ")
    # Captured moments after it was found, re-cropped 4 days after it was found: 3 whole
    # days in use; the capture and the "changed" visit are sightings.
    assert f"(3 days), seen {2 * len(visited)} times, removed on" in summary.group(1)
    assert html.count("(first capture)") == len(visited)
    # Row labels end left of the axis (x=150, where the first capture's dot sits): cut to
    # 18 characters, right-aligned, the whole label as a tooltip.
    labels = re.findall(
        r'<text class="row-label" x="([0-9.]+)"[^>]*text-anchor="end">([^<]*)<', svg
    )
    assert len(labels) == len(visited)
    assert all(float(x) < 145 and len(text) <= 18 for x, text in labels), labels


def test_match_timeline_page_and_links(site: Any, login: Any, visited: list[int]) -> None:
    c, _ = login("vera")
    match_page = c.get(f"/matches/{visited[0]}").text
    assert f'href="/timeline/match/{visited[0]}"' in match_page
    assert 'href="/timeline/site/localhost"' in match_page
    page = c.get(f"/timeline/match/{visited[0]}")
    assert page.status_code == 200
    assert page.text.count('class="visit"') == 3
    assert "0.820" in page.text
    assert c.get("/timeline/match/999999").status_code == 404
    assert c.get("/timeline/site/nowhere.example").status_code == 404
    anonymous, _ = login("")
    assert anonymous.get("/timeline/site/localhost").status_code == 303  # to /login


def test_case_page_links_its_sites_timelines(
    site: Any, login: Any, visited: list[int], tmp_path: Path
) -> None:
    c, csrf = login("alice")
    h = {"X-CSRF-Token": csrf}
    for match_id in visited:
        c.post(f"/api/matches/{match_id}/decisions", json={"decision": "confirmed"}, headers=h)
    case = c.post("/api/cases", json={"title": "timeline", "match_ids": visited}, headers=h).json()
    page = c.get(f"/cases/{case['case_id']}").text
    assert 'class="timeline" href="/timeline/site/localhost"' in page
    assert "None written" in page
    # A notice written and sent shows on the case page and in the site's timeline.
    ws = site[1]
    (tmp_path / "sender.yaml").write_text(
        "name: Jane Doe\naddress: 1 Quay\nemail: jane@example.org\n", encoding="utf-8"
    )
    notice = write_notice(
        ws, case["case_id"], kind="eu-dsa", sender=load_sender(tmp_path / "sender.yaml"),
        out=tmp_path / "notice.txt", created_by="alice",
    )  # fmt: skip
    sent = mark_sent(ws, case["case_id"], to="dsa@localhost", at=now())
    page = c.get(f"/cases/{case['case_id']}").text
    assert notice.notice_id in page and notice.sha256 in page and "dsa@localhost" in page
    timeline = c.get("/timeline/site/localhost").text
    assert timeline.count('class="notice"') == 1 and f"<td>{sent.ledger_index}</td>" in timeline
