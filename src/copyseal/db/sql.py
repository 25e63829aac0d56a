"""SQL statements that differ between SQLite and PostgreSQL, written once for both."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, overload

from sqlalchemy import Connection, Row, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase

__all__ = ["insert_or_ignore"]


@overload
def insert_or_ignore(
    conn: Connection,
    table: Table | type[DeclarativeBase],
    rows: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    index_elements: Sequence[str],
) -> None: ...


@overload
def insert_or_ignore(
    conn: Connection,
    table: Table | type[DeclarativeBase],
    rows: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    index_elements: Sequence[str],
    returning: Sequence[Any],
) -> list[Row[Any]]: ...


def insert_or_ignore(
    conn: Connection,
    table: Table | type[DeclarativeBase],
    rows: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    index_elements: Sequence[str],
    returning: Sequence[Any] | None = None,
) -> list[Row[Any]] | None:
    """Insert ``rows`` (one mapping or several), skipping each row whose values in
    ``index_elements`` (the columns of a primary key or unique constraint) are taken.

    ``INSERT ... ON CONFLICT (columns) DO NOTHING`` on both databases (SQLite 3.24+ and
    PostgreSQL 9.5+ share the clause); unlike catching ``IntegrityError``, a skipped row
    neither aborts the transaction nor hides a violation of another constraint. Several
    rows go as one executemany, so the statement is compiled once and reused from
    SQLAlchemy's statement cache.

    Args:
        conn: The connection (its transaction is the caller's).
        table: A table or a mapped class.
        rows: Column values; an empty sequence inserts nothing.
        index_elements: The conflict target's columns.
        returning: Columns to return for the rows actually inserted (the skipped ones
            return nothing). The driver's ``rowcount`` cannot count them: psycopg 3.3
            reports -1 for these statements on PostgreSQL.

    Returns:
        With ``returning``, the inserted rows' values; otherwise None.
    """
    params: Mapping[str, Any] | list[Mapping[str, Any]] = (
        rows if isinstance(rows, Mapping) else list(rows)
    )
    if not params:
        return None if returning is None else []
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    stmt = dialect.insert(table).on_conflict_do_nothing(index_elements=list(index_elements))
    if returning is None:
        conn.execute(stmt, params)
        return None
    return list(conn.execute(stmt.returning(*returning), params).all())
