"""Fixtures: the shared review world (see ../review/world.py)."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from copyseal.workspace import Workspace


def load_world() -> ModuleType:
    """``world.py`` loaded once per session by path (shared by several test folders)."""
    name = "copyseal_tests_world"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).parents[1] / "review" / "world.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


W = load_world()


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cheapest Argon2id cost in tests (the hash format and checks are the same)."""
    import nacl.pwhash

    from copyseal.review import users

    monkeypatch.setattr(users, "OPSLIMIT", nacl.pwhash.argon2id.OPSLIMIT_MIN)
    monkeypatch.setattr(users, "MEMLIMIT", nacl.pwhash.argon2id.MEMLIMIT_MIN)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> object:
    return W.build_world(tmp_path_factory)


@pytest.fixture
def world_copy(world: object, tmp_path: Path) -> Iterator[Workspace]:
    ws: Workspace = W.copy_workspace(world, tmp_path / "ws")
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def site(
    world: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Workspace]]:
    """The app served over a private copy of the world: (base URL, workspace)."""
    ws: Workspace = W.copy_workspace(world, tmp_path_factory.mktemp("web") / "ws")
    with W.serve_app(ws) as base:
        yield base, ws
    ws.close()


@pytest.fixture
def login(site: tuple[str, Workspace]) -> Iterator[Callable[[str], tuple[httpx.Client, str]]]:
    """``login(name)``: an HTTP client logged in through the login form, and its session's
    CSRF token (clients are closed after the test)."""
    opened: list[httpx.Client] = []

    def _login(name: str) -> tuple[httpx.Client, str]:
        c = httpx.Client(base_url=site[0], follow_redirects=False, timeout=30)
        opened.append(c)
        if not name:
            return c, ""
        page = c.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        done = c.post(
            "/login",
            data={"name": name, "password": W.PASSWORDS[name][1], "csrf_token": token.group(1)},
        )
        assert done.status_code == 303, done.text
        return c, str(c.get("/api/me").json()["csrf_token"])

    yield _login
    for c in opened:
        c.close()


tsa = W.tsa
