"""Shared fixtures: databases (SQLite and the local PostgreSQL), workspaces, photos."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from copyseal.config import Settings, load_settings
from copyseal.workspace import Workspace, init_workspace

REPO = Path(__file__).resolve().parents[1]
PG_SERVER_URL = os.environ.get(
    "COPYSEAL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else the reason."""
    engine = sa.create_engine(PG_SERVER_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as e:  # any failure to connect means "not reachable"
        return f"PostgreSQL not reachable at {PG_SERVER_URL}: {e.__class__.__name__}"
    finally:
        engine.dispose()
    return None


_PG_REASON: str | bool | None = False  # False = not probed yet


def _require_postgres() -> None:
    global _PG_REASON
    if _PG_REASON is False:
        _PG_REASON = _postgres_reachable()
    if _PG_REASON:
        if os.environ.get("COPYSEAL_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{_PG_REASON} (COPYSEAL_REQUIRE_POSTGRES=1)")
        pytest.skip(str(_PG_REASON))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections live in a fresh PostgreSQL schema, dropped afterwards."""
    _require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_SERVER_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    try:
        yield f"{PG_SERVER_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on SQLite and on the local PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'copyseal.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def workspace_settings(tmp_path: Path, database_url: str) -> Settings:
    """An initialised workspace in ``tmp_path/ws`` on each database."""
    ws_dir = tmp_path / "ws"
    if database_url.startswith("sqlite"):
        init_workspace(ws_dir)
    else:
        ws_dir.mkdir()
        (ws_dir / "config.yaml").write_text(
            f"database:\n  url: '{database_url}'\n", encoding="utf-8"
        )
        init_workspace(None, config=ws_dir / "config.yaml")
    return load_settings(ws_dir / "config.yaml")


@pytest.fixture
def workspace(workspace_settings: Settings) -> Iterator[Workspace]:
    ws = Workspace.open(workspace_settings)
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """Real photographs shipped inside the scikit-image and scikit-learn wheels."""
    import skimage.data
    from sklearn.datasets import load_sample_image

    return {
        "astronaut": skimage.data.astronaut(),
        "coffee": skimage.data.coffee(),
        "chelsea": skimage.data.chelsea(),
        "rocket": skimage.data.rocket(),
        "china": load_sample_image("china.jpg"),
        "flower": load_sample_image("flower.jpg"),
    }


@pytest.fixture
def photo_files(tmp_path: Path, photos: dict[str, np.ndarray]) -> dict[str, Path]:
    """The photos written as JPEG (and one PNG) files."""
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    out = {}
    for name, pixels in photos.items():
        suffix = ".png" if name == "coffee" else ".jpg"
        path = folder / f"{name}{suffix}"
        Image.fromarray(pixels).save(path)
        out[name] = path
    return out


@pytest.fixture
def asset() -> object:
    """``asset(name)``: the path of a golden file in ``tests/assets/``."""

    def _asset(name: str) -> Path:
        path = REPO / "tests" / "assets" / name
        assert path.exists(), f"missing test asset {path}"
        return path

    return _asset
