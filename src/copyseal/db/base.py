"""The declarative base every copyseal table registers on.

The tables themselves are in :mod:`copyseal.db.schema`, one module per stage that owns
them; all of them share this metadata so one Alembic history covers the whole database.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Deterministic constraint names, so migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for all copyseal tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
