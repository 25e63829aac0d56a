"""Engines and migrations.

SQLite gets WAL mode and foreign keys on every connection; PostgreSQL is used as is.
Migrations are Alembic's, run programmatically from the package so an installed copyseal
needs no ``alembic.ini`` on disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from copyseal.errors import StorageError

__all__ = [
    "create_engine",
    "current_revision",
    "head_revision",
    "redact",
    "unreachable",
    "upgrade",
]

_MIGRATIONS = Path(__file__).with_name("migrations")


def redact(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<invalid database URL>"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def unreachable(e: BaseException) -> bool:
    """Whether ``e`` says the database could not be reached (a restart, a network cut, a
    full connection pool: worth trying again) rather than that a statement failed."""
    return isinstance(
        e,
        sa.exc.OperationalError
        | sa.exc.InterfaceError
        | sa.exc.DisconnectionError
        | sa.exc.TimeoutError
        | ConnectionError,
    )


def create_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite files get WAL mode and foreign keys on.

    Raises:
        StorageError: the URL is malformed or its driver is missing.
    """
    try:
        parsed = sa.make_url(url)
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(parsed, **kwargs)
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        else:
            kwargs.setdefault("pool_pre_ping", True)
            engine = sa.create_engine(parsed, **kwargs)
    except (sa.exc.ArgumentError, ImportError) as e:
        raise StorageError(f"database URL {redact(url)}: {e}") from e
    return engine


def _alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The newest migration revision this copyseal knows."""
    script = ScriptDirectory(str(_MIGRATIONS))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's migration revision (None for an empty database)."""
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as e:
        orig = getattr(e, "orig", None)
        reason = (str(orig or e).strip().splitlines() or [e.__class__.__name__])[0]
        raise StorageError(f"database {redact(str(engine.url))}: cannot connect ({reason})") from e


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""
    try:
        command.upgrade(_alembic_config(engine), revision)
    except SQLAlchemyError as e:
        raise StorageError(f"database {redact(str(engine.url))}: migration failed: {e}") from e


def downgrade(engine: Engine, revision: str) -> None:
    """Revert migrations down to ``revision`` (for tests and operators)."""
    command.downgrade(_alembic_config(engine), revision)
