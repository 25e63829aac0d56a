"""Crawl targets in the review app: everyone reads, only admins manage, forms and API."""

from __future__ import annotations

import re
from typing import Any

import pytest

from copyseal.config import CrawlTarget
from copyseal.crawl import effective_settings, list_targets, spec_for, target_events

pytestmark = pytest.mark.browser  # the shared world is crawled and captured with Chromium

BODY = {
    "urls": ["http://127.0.0.1:9/catalogue/"],
    "max_pages": 20,
    "schedule": {"cron": "15 2 * * *"},
}


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("name", ["vera", "rita", "lars"])
def test_only_admins_manage_targets(site: Any, login: Any, name: str) -> None:
    c, csrf = login(name)
    assert c.get("/targets").status_code == 200
    assert c.get("/api/targets").status_code == 200
    assert c.get("/targets/new").status_code == 403
    headers = {"X-CSRF-Token": csrf}
    r = c.post("/api/targets", json={"name": "nope", **BODY}, headers=headers)
    assert r.status_code == 403 and "may not manage crawl targets" in r.json()["error"]
    r = c.post("/targets", data={"csrf_token": csrf, "name": "nope", "urls": BODY["urls"][0]})
    assert r.status_code == 403
    assert "nope" not in [t.name for t in list_targets(site[1])]
    assert 'href="/targets/new"' not in c.get("/targets").text


def test_an_admin_manages_targets_over_the_api(site: Any, login: Any) -> None:
    ws = site[1]
    c, csrf = login("alice")
    headers = {"X-CSRF-Token": csrf}
    # The CSRF header is needed for PUT and DELETE as for POST.
    assert c.post("/api/targets", json={"name": "cat", **BODY}).status_code == 403
    r = c.post("/api/targets", json={"name": "cat", **BODY}, headers=headers)
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["source"], made["version"], made["created_by"]) == ("app", 1, "alice")
    assert made["schedule"] == {
        "name": "cat",
        "target": "cat",
        "cron": "15 2 * * *",
        "revisit_matches": False,
        "enabled": True,
    }
    listed = {t["name"]: t for t in c.get("/api/targets").json()}
    assert listed["cat"]["schedule_state"]["next_run"] is not None
    assert spec_for(effective_settings(ws), ("cat",)).max_pages == 20

    # Aiming the crawler at internal networks is not for the app (finding 11 of issue 15).
    r = c.post("/api/targets", json={"name": "in", **BODY, "allow_private": True}, headers=headers)
    assert r.status_code == 400 and "allow_private cannot be set here" in r.json()["error"]
    r = c.post("/api/targets", json={"name": "bad", **BODY, "urls": ["ftp://x/"]}, headers=headers)
    assert r.status_code == 400 and "'ftp://x/' is not an http(s) URL" in r.json()["error"]
    r = c.put("/api/targets/cat", json={**BODY, "render": True, "version": 1}, headers=headers)
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["target"]["render"]
    stale = c.put("/api/targets/cat", json={**BODY, "version": 1}, headers=headers)
    assert stale.status_code == 400 and "changed by alice since" in stale.json()["error"]
    assert c.put("/api/targets/ghost", json=BODY, headers=headers).status_code == 404
    detail = c.get("/api/targets/cat").json()
    assert [e["action"] for e in detail["events"]] == ["updated", "created"]
    assert detail["jobs"] == []
    assert c.delete("/api/targets/cat").status_code == 403
    assert c.delete("/api/targets/cat", headers=headers).json() == {"ok": True, "removed": "cat"}
    assert c.get("/api/targets/cat").status_code == 404
    assert [e.action for e in target_events(ws, "cat")] == ["removed", "updated", "created"]
    openapi = c.get("/api/openapi.json").json()
    paths = openapi["paths"]
    assert {"get", "put", "delete"} <= set(paths["/api/targets/{name}"])
    assert {"get", "post"} <= set(paths["/api/targets"])
    # The bodies are made from the settings model: every key, with its description.
    body = openapi["components"]["schemas"]["TargetCreate"]["properties"]
    assert set(CrawlTarget.model_fields) <= set(body)
    assert body["render"]["description"] == CrawlTarget.model_fields["render"].description


def test_an_admin_manages_targets_with_forms(site: Any, login: Any) -> None:
    ws = site[1]
    c, _ = login("alice")
    form = c.get("/targets/new")
    assert form.status_code == 200 and 'name="cron"' in form.text
    for key in CrawlTarget.model_fields:  # the form is made from the settings model
        # ... but for allow_private: only config.yaml and the command line allow it.
        assert (f'name="{key}"' in form.text) is (key != "allow_private")
    token = _csrf(form.text)
    fields = {
        "csrf_token": token,
        "name": "blog",
        "urls": "http://127.0.0.1:9/blog/\nhttp://127.0.0.1:9/news/",
        "spider": "site",
        "max_pages": "12",
        "obey_robots_txt": "1",
        "cron": "0 4 * * 1",
        "schedule_enabled": "1",
    }
    # Without the CSRF token nothing is saved.
    assert c.post("/targets", data={**fields, "csrf_token": ""}).status_code == 403
    # A bad field shows the form again with the message and what was typed.
    bad = c.post("/targets", data={**fields, "max_pages": "lots"})
    assert bad.status_code == 400
    assert "max_pages: Input should be a valid integer" in bad.text
    assert "http://127.0.0.1:9/news/" in bad.text
    r = c.post("/targets", data=fields)
    assert r.status_code == 303 and r.headers["location"] == "/targets/blog?flash=target"
    page = c.get(r.headers["location"])
    assert "Crawl target saved." in page.text and "0 4 * * 1" in page.text
    assert 'id="edit-target"' in page.text
    blog = next(t for t in list_targets(ws) if t.name == "blog")
    assert blog.target.urls == ["http://127.0.0.1:9/blog/", "http://127.0.0.1:9/news/"]
    assert (blog.target.max_pages, blog.target.render) == (12, False)

    # Editing: an unchecked box is false; the version guards against lost updates.
    edit = {**fields, "csrf_token": _csrf(page.text), "version": "1", "cron": ""}
    del edit["schedule_enabled"], edit["name"]
    assert c.post("/targets/blog", data=edit).status_code == 303
    blog = next(t for t in list_targets(ws) if t.name == "blog")
    assert blog.schedule is None and blog.version == 2
    stale = c.post("/targets/blog", data=edit)
    assert stale.status_code == 400 and "reload and retry" in stale.text

    # Removing needs the name typed again.
    token = _csrf(c.get("/targets/blog").text)
    r = c.post("/targets/blog/remove", data={"csrf_token": token, "confirm": "blo"})
    assert r.status_code == 400 and "to confirm its removal" in r.text
    r = c.post("/targets/blog/remove", data={"csrf_token": token, "confirm": "blog"})
    assert r.status_code == 303
    assert c.get("/targets/blog").status_code == 404
    assert "blog" not in [t.name for t in list_targets(ws)]


def test_target_pages_escape_what_admins_typed(site: Any, login: Any) -> None:
    c, csrf = login("alice")
    url = "http://127.0.0.1:9/<script>alert(1)</script>"
    r = c.post(
        "/api/targets",
        json={"name": "xss", "urls": [url]},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 201, r.text
    for path in ("/targets", "/targets/xss"):
        html = c.get(path).text
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    vera, _ = login("vera")
    page = vera.get("/targets/xss").text
    assert 'id="edit-target"' not in page and 'id="remove-target"' not in page
