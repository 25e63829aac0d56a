"""The app as copyseal serve runs it (real uvicorn on loopback): proxy headers trusted only
from configured proxies, parallel logins throttled, the API's rules on roles."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select
from sqlalchemy.orm import Session

from copyseal.config import load_settings
from copyseal.db.schema.review import LoginAttempt
from copyseal.review.users import MAX_FAILURES, add_user, list_users
from copyseal.web import create_app, server_config
from copyseal.workspace import Workspace, init_workspace


@contextmanager
def _served(ws: Workspace, **options: object) -> Iterator[str]:
    """``create_app(ws, **options)`` under :func:`server_config` on 127.0.0.1."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = server_config(create_app(ws, **options), host="127.0.0.1", port=port)  # type: ignore[arg-type]
    config.lifespan = "off"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    folder: Path = tmp_path_factory.mktemp("web-app") / "ws"
    init_workspace(folder)
    workspace = Workspace.open(load_settings(folder / "config.yaml", env={}))
    for name, role in (("ada", "admin"), ("ben", "admin"), ("cat", "viewer")):
        add_user(workspace, name=name, role=role, password=f"{name}-password")
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def plain(ws: Workspace) -> Iterator[str]:
    """The app with the default configuration (no trusted proxy)."""
    with _served(ws) as base:
        yield base


def _remotes(ws: Workspace, name: str) -> list[str]:
    with Session(ws.engine) as s:
        return list(s.scalars(select(LoginAttempt.remote).where(LoginAttempt.name == name)))


def _login(base: str, name: str, password: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{base}/api/login", json={"name": name, "password": password}, headers=headers
    )


def test_a_spoofed_forwarded_for_is_ignored_by_default(ws: Workspace, plain: str) -> None:
    spoof = {"X-Forwarded-For": "203.0.113.66", "X-Forwarded-Proto": "https"}
    r = _login(plain, "cat", "cat-password", **spoof)
    assert r.status_code == 200
    # Neither the audit trail nor the cookie believed the header.
    assert _remotes(ws, "cat") == ["127.0.0.1"]
    assert "secure" not in r.headers["set-cookie"].lower()
    # A spoofed address per guess does not dodge the per-address delay either.
    for k in range(MAX_FAILURES + 1):
        _login(plain, f"nobody{k}", "guess-guess", **{"X-Forwarded-For": f"198.51.100.{k}"})
    assert {r for k in range(MAX_FAILURES + 1) for r in _remotes(ws, f"nobody{k}")} == {"127.0.0.1"}


def test_a_configured_proxy_is_believed(ws: Workspace) -> None:
    with _served(ws, forwarded_allow_ips=["127.0.0.0/8"]) as base:
        proxied = {"X-Forwarded-For": "203.0.113.77", "X-Forwarded-Proto": "https"}
        r = _login(base, "cat", "cat-password", **proxied)
        assert r.status_code == 200
        assert "secure" in r.headers["set-cookie"].lower()  # the proxy speaks HTTPS
    with _served(ws, forwarded_allow_ips=["10.0.0.0/8"]) as base:  # not this client
        _login(base, "cat", "cat-password", **{"X-Forwarded-For": "203.0.113.88"})
    remotes = _remotes(ws, "cat")
    assert "203.0.113.77" in remotes and "203.0.113.88" not in remotes


def test_parallel_logins_check_at_most_the_limit(ws: Workspace, plain: str) -> None:
    add_user(ws, name="dot", role="viewer", password="dot-password")
    with ThreadPoolExecutor(max_workers=17) as pool:
        answers = list(pool.map(lambda k: _login(plain, "dot", f"wrong-{k}"), range(17)))
    codes = [a.status_code for a in answers]
    assert set(codes) <= {401, 429} and 1 <= codes.count(401) <= MAX_FAILURES, codes
    throttled = [a for a in answers if a.status_code == 429]
    assert throttled and all(int(a.headers["retry-after"]) >= 1 for a in throttled)
    assert "try again in" in throttled[0].json()["error"]


def _admin(base: str, name: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=30)
    r = c.post("/api/login", json={"name": name, "password": f"{name}-password"})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


def test_the_api_applies_the_forms_rules_on_roles(ws: Workspace, plain: str) -> None:
    ada = _admin(plain, "ada")
    try:
        for change in ({"role": "viewer"}, {"disabled": True}):
            r = ada.patch("/api/users/ada", json=change)
            assert r.status_code == 400 and "yourself" in r.json()["error"], r.text
        assert ada.patch("/api/users/ben", json={"role": "legal"}).status_code == 200
        # ben was the other admin: ada is the last one now.
        assert ada.patch("/api/users/ada", json={"role": "viewer"}).status_code == 400
    finally:
        ada.close()
    roles = {u.name: u.role for u in list_users(ws)}
    assert roles["ada"] == "admin" and roles["ben"] == "legal"
