from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from copyseal.db import session as db
from copyseal.errors import StorageError


def revisions() -> list[str]:
    script = ScriptDirectory(str(Path(db.__file__).with_name("migrations")))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def test_revisions_are_linear_from_the_first_table() -> None:
    revs = revisions()
    assert revs[0] == "0001_foundation"
    assert revs[-1] == db.head_revision()


def test_upgrade_from_empty_and_from_each_previous_revision(database_url: str) -> None:
    engine = db.create_engine(database_url)
    try:
        assert db.current_revision(engine) is None
        db.upgrade(engine)
        assert db.current_revision(engine) == db.head_revision()
        assert "works" in sa.inspect(engine).get_table_names()
        revs = revisions()
        for previous in reversed(revs[:-1]):
            db.downgrade(engine, previous)
            assert db.current_revision(engine) == previous
            db.upgrade(engine)
            assert db.current_revision(engine) == db.head_revision()
        db.downgrade(engine, "base")
        assert "works" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_models_match_the_migrations(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from copyseal.db.base import Base

    engine = db.create_engine(database_url)
    try:
        db.upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_sqlite_has_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'sub' / 'x.db'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("pragma journal_mode")).scalar() == "wal"
            assert conn.execute(sa.text("pragma foreign_keys")).scalar() == 1
    finally:
        engine.dispose()


def test_bad_url_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match="database URL"):
        db.create_engine("notaurl")


def test_unreachable_server_names_the_redacted_url() -> None:
    engine = db.create_engine(
        "postgresql+psycopg://u:secret@127.0.0.1:1/db", connect_args={"connect_timeout": 2}
    )
    with pytest.raises(StorageError, match=r"u:\*\*\*@127.0.0.1:1/db: cannot connect") as info:
        db.current_revision(engine)
    assert "secret" not in str(info.value)
