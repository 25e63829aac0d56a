"""Security of the review app: sessions, roles, CSRF, escaping, safe file names."""

from __future__ import annotations

import re
import stat
from typing import Any

import pytest
from fastapi.routing import APIRoute

from copyseal.review.decisions import history
from copyseal.review.queue import queue

from .conftest import W

pytestmark = pytest.mark.browser  # the shared world is crawled and captured with Chromium


def _routes() -> list[tuple[str, str]]:
    """Every route of the app (method, path with sample parameters)."""
    from copyseal.web import _api, _pages, _pages_cases, _targets

    out = [("GET", "/api/openapi.json")]
    for router in (
        _api.router,
        _pages.router,
        _pages_cases.router,
        _targets.router,
        _targets.api_router,
    ):
        for route in router.routes:
            assert isinstance(route, APIRoute)
            path = (
                route.path.replace("{match_id}", "1")
                .replace("{case_id}", "case-x")
                .replace("{name:path}", "data/x.png")
                .replace("{name}", "vera")
                .replace("{file_name}", "case-x.zip")
                .replace("{ledger_index:int}", "1")
            )
            out += [(m, path) for m in sorted(route.methods)]
    return out


def test_every_route_needs_a_session(site: Any, login: Any) -> None:
    _ = site
    routes = _routes()
    assert len(routes) > 25
    c, _ = login("")
    open_routes = {("GET", "/login"), ("POST", "/login"), ("POST", "/api/login")}
    for method, path in routes:
        if (method, path) in open_routes:
            continue
        r = c.request(method, path, headers={"Accept": "text/html"})
        if path.startswith("/api/"):
            assert r.status_code == 401, (method, path, r.status_code)
        else:
            assert r.status_code == 303, (method, path, r.status_code)
            assert r.headers["location"].startswith("/login?next="), (method, path)
    # A forged cookie is no session either.
    c.cookies.set("copyseal_session", "abc.def")
    assert c.get("/api/queue").status_code == 401


def test_session_cookie_flags_and_secret_file(site: Any, login: Any) -> None:
    ws = site[1]
    c, _ = login("")
    page = c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    done = c.post(
        "/login", data={"name": "vera", "password": W.PASSWORDS["vera"][1], "csrf_token": token}
    )
    cookie = next(
        v for v in done.headers.get_list("set-cookie") if v.startswith("copyseal_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    secret = ws.settings.workspace.signing_key.parent / "web.secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert secret.read_text().strip() not in cookie
    for header in ("content-security-policy", "x-frame-options", "x-content-type-options"):
        assert header in done.headers


def test_login_needs_its_csrf_token_and_is_throttled(site: Any, login: Any) -> None:
    _ = site
    c, _ = login("")
    c.get("/login")
    r = c.post("/login", data={"name": "vera", "password": W.PASSWORDS["vera"][1]})
    assert r.status_code == 403 and "copyseal_session" not in r.headers.get("set-cookie", "")
    api, _ = login("")
    from copyseal.review.users import add_user

    add_user(site[1], name="tom", role="viewer", password="tom-password")
    for _ in range(5):
        assert (
            api.post("/api/login", json={"name": "tom", "password": "nope-nope"}).status_code == 401
        )
    r = api.post("/api/login", json={"name": "tom", "password": "tom-password"})
    assert r.status_code == 429 and "too many" in r.json()["error"]


def test_a_viewer_cannot_decide(site: Any, login: Any) -> None:
    ws = site[1]
    match_id = queue(ws).items[0].match_id
    c, csrf = login("vera")
    page = c.get(f"/matches/{match_id}")
    assert page.status_code == 200 and "can read but not decide" in page.text
    r = c.post(f"/matches/{match_id}/decide", data={"decision": "confirmed", "csrf_token": csrf})
    assert r.status_code == 403
    r = c.post(
        f"/api/matches/{match_id}/decisions",
        json={"decision": "confirmed"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 403 and "may not decide" in r.json()["error"]
    assert history(ws, match_id) == []


def test_forms_without_the_csrf_token_are_refused(site: Any, login: Any) -> None:
    ws = site[1]
    match_id = queue(ws).items[0].match_id
    c, csrf = login("rita")
    for data in ({"decision": "confirmed"}, {"decision": "confirmed", "csrf_token": "forged"}):
        r = c.post(f"/matches/{match_id}/decide", data=data, headers={"Accept": "text/html"})
        assert r.status_code == 403 and "CSRF" in r.text
    r = c.post(f"/api/matches/{match_id}/decisions", json={"decision": "confirmed"})
    assert r.status_code == 403
    assert history(ws, match_id) == []
    r = c.post(f"/matches/{match_id}/decide", data={"decision": "confirmed", "csrf_token": csrf})
    assert r.status_code == 303 and [d.decision for d in history(ws, match_id)] == ["confirmed"]


def test_a_reviewer_cannot_make_cases_or_export(site: Any, login: Any) -> None:
    ws = site[1]
    rita, csrf = login("rita")
    match_id = queue(ws).items[-1].match_id
    rita.post(
        f"/api/matches/{match_id}/decisions",
        json={"decision": "confirmed"},
        headers={"X-CSRF-Token": csrf},
    )
    r = rita.post(
        "/api/cases", json={"title": "x", "match_ids": [match_id]}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 403
    lars, lcsrf = login("lars")
    case = lars.post(
        "/api/cases", json={"title": "x", "match_ids": [match_id]}, headers={"X-CSRF-Token": lcsrf}
    ).json()
    r = rita.post(f"/cases/{case['case_id']}/export", data={"csrf_token": csrf})
    assert r.status_code == 403
    r = rita.post(f"/api/cases/{case['case_id']}/exports", json={}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403
    assert lars.get(f"/api/cases/{case['case_id']}").json()["exports"] == []


@pytest.mark.parametrize("name", ["rita", "lars", "vera"])
def test_only_admins_manage_users(site: Any, login: Any, name: str) -> None:
    _ = site
    c, csrf = login(name)
    assert c.get("/admin/users").status_code == 403
    assert c.get("/api/users").status_code == 403
    r = c.post(
        "/api/users",
        json={"name": "mallory", "role": "admin", "password": "pw-pw-pw-pw"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 403
    r = c.post("/admin/users/vera", data={"role": "admin", "csrf_token": csrf})
    assert r.status_code == 403
    admin, _acsrf = login("alice")
    assert "mallory" not in {u["name"] for u in admin.get("/api/users").json()}
    assert {u["name"]: u["role"] for u in admin.get("/api/users").json()}["vera"] == "viewer"


def test_an_admin_manages_users(site: Any, login: Any) -> None:
    _ = site
    admin, csrf = login("alice")
    r = admin.post(
        "/admin/users",
        data={
            "name": "newbie",
            "role": "viewer",
            "password": "newbie-password",
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 303
    r = admin.patch("/api/users/newbie", json={"role": "reviewer"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["role"] == "reviewer"
    assert "newbie" in admin.get("/admin/users").text


def test_template_output_is_escaped(site: Any, login: Any) -> None:
    ws = site[1]
    rita, rcsrf = login("rita")
    match_id = queue(ws).items[1].match_id
    evil = "<script>alert(1)</script>"
    rita.post(
        f"/api/matches/{match_id}/decisions",
        json={"decision": "confirmed", "comment": evil},
        headers={"X-CSRF-Token": rcsrf},
    )
    lars, csrf = login("lars")
    case = lars.post(
        "/api/cases", json={"title": evil, "match_ids": [match_id]}, headers={"X-CSRF-Token": csrf}
    ).json()
    for page in (
        lars.get(f"/cases/{case['case_id']}"),
        lars.get("/cases"),
        rita.get(f"/matches/{match_id}"),
    ):
        assert page.status_code == 200
        assert evil not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_bundle_files_are_served_by_manifest_path_only(site: Any, login: Any) -> None:
    ws = site[1]
    c, _ = login("vera")
    match = c.get(f"/api/matches/{queue(ws).items[0].match_id}").json()
    mid = match["match_id"]
    work = c.get(f"/matches/{mid}/files/{match['files']['work']}")
    assert work.status_code == 200 and work.headers["content-type"].startswith("image/")
    assert "sandbox" in work.headers["content-security-policy"]
    raw = c.get(f"/matches/{mid}/files/data/capture/page/raw.html")
    assert raw.status_code == 200 and raw.headers["content-type"] == "application/octet-stream"
    assert raw.headers["content-disposition"].startswith("attachment")
    for bad in (
        "manifest.json",
        "data/nothing.png",
        "data/%2e%2e/%2e%2e/config.yaml",
        "..%2F..%2F..%2Fconfig.yaml",
        "%2Fetc%2Fpasswd",
    ):
        assert c.get(f"/matches/{mid}/files/{bad}").status_code in (404, 422), bad


def test_export_downloads_cannot_escape(site: Any, login: Any) -> None:
    _ = site
    c, _ = login("alice")
    cases = c.get("/api/cases").json()
    case_id = cases[0]["case_id"] if cases else "case-x"
    for bad in ("..%2F..%2Fconfig.yaml", "..%2Fkeys%2Fweb.secret", "%2e%2e", "x.zip"):
        r = c.get(f"/cases/{case_id}/exports/{bad}")
        assert r.status_code == 404, bad
