"""Fixtures: the shared review world (see ../review/world.py)."""

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


tsa = W.tsa
