"""Fixtures of the review tests: the shared world, private copies, storage workspaces."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from copyseal.workspace import Workspace


def load_world() -> ModuleType:
    """``world.py`` loaded once per session by path (shared by several test folders)."""
    name = "copyseal_tests_world"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("world.py"))
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


@pytest.fixture
def people(workspace: Workspace) -> dict[str, object]:
    """One account per role in the (SQLite or PostgreSQL) test workspace."""
    from copyseal.review.users import add_user

    return {
        name: add_user(workspace, name=name, role=role, password=password)
        for name, (role, password) in W.PASSWORDS.items()
    }


@pytest.fixture
def seeded(workspace: Workspace) -> list[int]:
    """Five synthetic matches on two sites (scores 0.5-0.9)."""
    ids: list[int] = W.seed_matches(
        workspace,
        [
            ("https://a.example/", 0.9),
            ("https://a.example/p2", 0.5),
            ("https://b.example/", 0.7),
            ("https://b.example/x", 0.6),
            ("https://a.example/p3", 0.8),
        ],
    )
    return ids


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> object:
    return W.build_world(tmp_path_factory)


@pytest.fixture
def world_copy(world: object, tmp_path: Path) -> Iterator[Workspace]:
    ws: Workspace = W.copy_workspace(world, tmp_path / "ws")
    yield ws
    ws.close()


tsa = W.tsa
