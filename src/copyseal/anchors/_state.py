"""The anchors' state in the database: rows of ``anchor_records`` and deployments.

Statuses move forward only (see :mod:`copyseal.anchors.service`); these helpers read
rows, move one forward, and read back what was anchored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from copyseal.anchors.base import AnchorRecord
from copyseal.db.schema.anchors import ANCHOR_DEPLOYMENTS as _DEPLOYMENTS
from copyseal.db.schema.anchors import ANCHOR_RECORDS as _ROWS
from copyseal.ledger.checkpoint import parse_checkpoint
from copyseal.ledger.note import parse_note
from copyseal.times import now, utc_or_none

SENT, ANCHORED, CONFIRMED, FAILED = "sent", "anchored", "confirmed", "failed"
DONE = (ANCHORED, CONFIRMED)
#: Back-off after the n-th failure in a row: 30 s · 2^(n-1), at most six hours.
_BACKOFF_BASE = 30.0
_BACKOFF_CAP = 6 * 3600.0


def backoff(attempts: int) -> timedelta:
    """How long a failed anchor waits after ``attempts`` failures in a row."""
    seconds = _BACKOFF_BASE * 2.0 ** min(max(attempts - 1, 0), 30)
    return timedelta(seconds=min(seconds, _BACKOFF_CAP))


def remembered_contract(conn: Connection, name: str, chain_id: Any) -> str | None:
    row = conn.execute(
        select(_DEPLOYMENTS.c.contract).where(
            _DEPLOYMENTS.c.kind == "evm",
            _DEPLOYMENTS.c.name == name,
            _DEPLOYMENTS.c.chain_id == chain_id,
        )
    ).first()
    return None if row is None else str(row.contract)


def record_of(row: Any) -> AnchorRecord:
    return AnchorRecord(
        kind=row.kind,
        name=row.name,
        checkpoint=parse_checkpoint(parse_note(row.note).text),
        payload=bytes(row.payload or b""),
        anchored_at=utc_or_none(row.anchored_at),
    )


def get_row(conn: Connection, kind: str, name: str, size: int) -> Any:
    return conn.execute(
        select(_ROWS).where(_ROWS.c.kind == kind, _ROWS.c.name == name, _ROWS.c.tree_size == size)
    ).first()


def latest_row(conn: Connection, kind: str, name: str) -> Any:
    return conn.execute(
        select(_ROWS)
        .where(_ROWS.c.kind == kind, _ROWS.c.name == name)
        .order_by(_ROWS.c.tree_size.desc())
        .limit(1)
    ).first()


def move(conn: Connection, key: tuple[str, str, int], before: Sequence[str], **values: Any) -> bool:
    """Move a row forward from one of the ``before`` statuses; False if it was not there
    (another process moved it)."""
    kind, name, size = key
    done = conn.execute(
        update(_ROWS)
        .where(
            _ROWS.c.kind == kind,
            _ROWS.c.name == name,
            _ROWS.c.tree_size == size,
            _ROWS.c.status.in_(before),
        )
        .values(updated_at=now(), **values)
        .returning(_ROWS.c.tree_size)
    ).first()
    return done is not None


def records_covering(conn: Connection, size: int) -> list[tuple[str, AnchorRecord]]:
    """For each (kind, name), its smallest anchored checkpoint of at least ``size``:
    ``(signed note, record)``, by size then kind and name."""
    smallest = (
        select(_ROWS.c.kind, _ROWS.c.name, func.min(_ROWS.c.tree_size).label("size"))
        .where(_ROWS.c.tree_size >= size, _ROWS.c.status.in_(DONE))
        .group_by(_ROWS.c.kind, _ROWS.c.name)
        .subquery()
    )
    rows = conn.execute(
        select(_ROWS)
        .join(
            smallest,
            and_(
                _ROWS.c.kind == smallest.c.kind,
                _ROWS.c.name == smallest.c.name,
                _ROWS.c.tree_size == smallest.c.size,
            ),
        )
        .order_by(_ROWS.c.tree_size, _ROWS.c.kind, _ROWS.c.name)
    ).all()
    return [(row.note, record_of(row)) for row in rows]


def anchored_notes(conn: Connection) -> list[tuple[str, str, int, str]]:
    """Each anchor's newest anchored checkpoint: ``(kind, name, size, signed note)``, for
    ``ledger audit`` to hold the log against as trusted checkpoints."""
    newest = (
        select(_ROWS.c.kind, _ROWS.c.name, func.max(_ROWS.c.tree_size).label("size"))
        .where(_ROWS.c.status.in_(DONE))
        .group_by(_ROWS.c.kind, _ROWS.c.name)
        .subquery()
    )
    rows = conn.execute(
        select(_ROWS.c.kind, _ROWS.c.name, _ROWS.c.tree_size, _ROWS.c.note)
        .join(
            newest,
            and_(
                _ROWS.c.kind == newest.c.kind,
                _ROWS.c.name == newest.c.name,
                _ROWS.c.tree_size == newest.c.size,
            ),
        )
        .order_by(_ROWS.c.tree_size.desc(), _ROWS.c.kind, _ROWS.c.name)
    ).all()
    return [(r.kind, r.name, int(r.tree_size), r.note) for r in rows]
