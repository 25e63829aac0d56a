"""Reading stored hashes and entries: O(log n) proof reads and contiguous tile ranges."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, and_, func, or_, select

from copyseal.db.schema.ledger import CHECKPOINTS as _CHECKPOINTS
from copyseal.db.schema.ledger import ENTRIES as _ENTRIES
from copyseal.db.schema.ledger import SUBTREES as _SUBTREES
from copyseal.errors import LedgerError
from copyseal.ledger import _merkle

__all__ = ["hash_range", "latest_size", "leaf_data_range", "reader"]


def latest_size(conn: Connection) -> int:
    size = conn.execute(select(func.max(_CHECKPOINTS.c.tree_size))).scalar()
    return 0 if size is None else int(size)


def reader(conn: Connection) -> _merkle.HashReader:
    """A hash reader over the store: level 0 from entries, higher levels from subtrees."""

    def read(keys: Sequence[_merkle.SubtreeKey]) -> list[bytes]:
        leaves = [i for level, i in keys if level == 0]
        nodes = [(level, i) for level, i in keys if level > 0]
        found: dict[_merkle.SubtreeKey, bytes] = {}
        if leaves:
            rows = conn.execute(
                select(_ENTRIES.c.leaf_index, _ENTRIES.c.leaf_hash).where(
                    _ENTRIES.c.leaf_index.in_(leaves)
                )
            )
            found.update(((0, r.leaf_index), bytes(r.leaf_hash)) for r in rows)
        if nodes:
            # OR of equalities, not a row-value IN: SQLite scans the table for the latter.
            wanted = or_(
                *(and_(_SUBTREES.c.level == lv, _SUBTREES.c.node_index == i) for lv, i in nodes)
            )
            rows = conn.execute(select(_SUBTREES).where(wanted))
            found.update(((r.level, r.node_index), bytes(r.hash)) for r in rows)
        missing = [k for k in keys if k not in found]
        if missing:
            level, i = missing[0]
            raise LedgerError(
                f"stored hash of leaves [{i << level}, {(i + 1) << level}) is missing;"
                " run 'ledger audit'"
            )
        return [found[k] for k in keys]

    return read


def hash_range(conn: Connection, level: int, start: int, end: int) -> list[bytes]:
    """Stored hashes of the complete subtrees ``(level, start) … (level, end - 1)``."""
    if level == 0:
        rows = conn.execute(
            select(_ENTRIES.c.leaf_index, _ENTRIES.c.leaf_hash)
            .where(_ENTRIES.c.leaf_index >= start, _ENTRIES.c.leaf_index < end)
            .order_by(_ENTRIES.c.leaf_index)
        ).all()
    else:
        rows = conn.execute(
            select(_SUBTREES.c.node_index, _SUBTREES.c.hash)
            .where(
                _SUBTREES.c.level == level,
                _SUBTREES.c.node_index >= start,
                _SUBTREES.c.node_index < end,
            )
            .order_by(_SUBTREES.c.node_index)
        ).all()
    if [r[0] for r in rows] != list(range(start, end)):
        raise LedgerError(f"stored hashes at level {level} [{start}, {end}) are incomplete")
    return [bytes(r[1]) for r in rows]


def leaf_data_range(conn: Connection, start: int, end: int) -> list[bytes]:
    """The leaf data of entries ``start … end - 1``."""
    rows = conn.execute(
        select(_ENTRIES.c.leaf_index, _ENTRIES.c.leaf_data)
        .where(_ENTRIES.c.leaf_index >= start, _ENTRIES.c.leaf_index < end)
        .order_by(_ENTRIES.c.leaf_index)
    ).all()
    if [r.leaf_index for r in rows] != list(range(start, end)):
        raise LedgerError(f"entries [{start}, {end}) are incomplete")
    return [bytes(r.leaf_data) for r in rows]
