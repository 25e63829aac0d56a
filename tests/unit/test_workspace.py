from __future__ import annotations

import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from copyseal.db import session as db
from copyseal.errors import WorkspaceError
from copyseal.workspace import Workspace, init_workspace


def test_init_creates_the_layout(tmp_path: Path) -> None:
    settings = init_workspace(tmp_path / "ws")
    ws_dir = tmp_path / "ws"
    assert (ws_dir / "config.yaml").read_text().startswith("# copyseal workspace configuration.")
    assert (ws_dir / "evidence").is_dir()
    assert stat.S_IMODE((ws_dir / "keys" / "signing.key").stat().st_mode) == 0o600
    assert (ws_dir / "keys" / "signing.pub").exists()
    engine = db.create_engine(settings.database.url)
    try:
        assert db.current_revision(engine) == db.head_revision()
        with engine.connect() as conn:
            assert conn.execute(sa.text("select count(*) from works")).scalar() == 0
    finally:
        engine.dispose()


def test_init_refuses_an_existing_workspace(tmp_path: Path) -> None:
    init_workspace(tmp_path / "ws")
    key_before = (tmp_path / "ws" / "keys" / "signing.key").read_bytes()
    with pytest.raises(WorkspaceError, match="already a workspace"):
        init_workspace(tmp_path / "ws")
    with pytest.raises(WorkspaceError, match="signing key exists"):
        init_workspace(None, config=tmp_path / "ws" / "config.yaml")
    assert (tmp_path / "ws" / "keys" / "signing.key").read_bytes() == key_before


def test_init_refuses_a_used_database(tmp_path: Path) -> None:
    init_workspace(tmp_path / "ws")
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.yaml").write_text(
        f"database:\n  url: sqlite:///{tmp_path / 'ws' / 'copyseal.db'}\n"
    )
    with pytest.raises(WorkspaceError, match="already holds a copyseal workspace"):
        init_workspace(None, config=other / "config.yaml")
    assert not (other / "keys").exists()


def test_opening_an_uninitialised_folder_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("")
    from copyseal.config import load_settings

    ws = Workspace.open(load_settings(tmp_path / "config.yaml"))
    with pytest.raises(WorkspaceError, match="not an initialised workspace"):
        _ = ws.engine


def test_signing_key_loads_lazily(workspace: Workspace) -> None:
    key = workspace.signing_key()
    assert bytes(key.verify_key) == bytes(workspace.verify_key())
    assert workspace.signing_key() is key
