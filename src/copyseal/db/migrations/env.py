"""Alembic environment: runs against the engine copyseal hands over in ``attributes``."""

from __future__ import annotations

from alembic import context

import copyseal.db.models  # noqa: F401  (registers every table on the metadata)
from copyseal.db.base import Base

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
