"""``insert_or_ignore`` on SQLite and PostgreSQL: taken keys are skipped, the rest go in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from copyseal.db.sql import insert_or_ignore

METADATA = sa.MetaData()
PAIRS = sa.Table(
    "pairs",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("a", sa.String(16), nullable=False),
    sa.Column("b", sa.String(16), nullable=False),
    sa.Column("note", sa.String(16), nullable=False),
    sa.Column("serial", sa.Integer, nullable=True, unique=True),
    sa.UniqueConstraint("a", "b"),
)


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    e = sa.create_engine(database_url)
    METADATA.create_all(e)
    yield e
    METADATA.drop_all(e)
    e.dispose()


def _rows(engine: sa.Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(PAIRS.c.a, PAIRS.c.b, PAIRS.c.note).order_by(PAIRS.c.id))
        return [(a, b, n) for a, b, n in rows]


def test_taken_keys_are_skipped_and_the_first_values_stay(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        insert_or_ignore(
            conn, PAIRS, {"a": "x", "b": "1", "note": "first"}, index_elements=["a", "b"]
        )
        insert_or_ignore(
            conn,
            PAIRS,
            [
                {"a": "x", "b": "1", "note": "second"},  # taken: skipped, not updated
                {"a": "x", "b": "2", "note": "new"},
                {"a": "y", "b": "1", "note": "new"},
            ],
            index_elements=["a", "b"],
        )
        insert_or_ignore(conn, PAIRS, [], index_elements=["a", "b"])
    assert _rows(engine) == [("x", "1", "first"), ("x", "2", "new"), ("y", "1", "new")]


def test_returning_gives_only_the_inserted_rows(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        first = insert_or_ignore(
            conn,
            PAIRS,
            {"a": "x", "b": "1", "note": "n"},
            index_elements=["a", "b"],
            returning=[PAIRS.c.a, PAIRS.c.b],
        )
        again = insert_or_ignore(
            conn,
            PAIRS,
            {"a": "x", "b": "1", "note": "n"},
            index_elements=["a", "b"],
            returning=[PAIRS.c.id],
        )
        many = insert_or_ignore(
            conn,
            PAIRS,
            [{"a": "x", "b": "1", "note": "n"}, {"a": "z", "b": "9", "note": "n"}],
            index_elements=["a", "b"],
            returning=[PAIRS.c.a],
        )
        none = insert_or_ignore(conn, PAIRS, [], index_elements=["a", "b"], returning=[PAIRS.c.a])
    assert [tuple(r) for r in first] == [("x", "1")]
    assert again == [] and none == []
    assert [r.a for r in many] == ["z"]


def test_a_conflict_on_another_constraint_is_not_hidden(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        insert_or_ignore(
            conn, PAIRS, {"a": "x", "b": "1", "note": "n", "serial": 7}, index_elements=["a", "b"]
        )
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        insert_or_ignore(
            conn, PAIRS, {"a": "y", "b": "1", "note": "n", "serial": 7}, index_elements=["a", "b"]
        )
    assert _rows(engine) == [("x", "1", "n")]
