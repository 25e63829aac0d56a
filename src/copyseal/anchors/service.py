"""Anchoring a workspace's checkpoints: the configured anchors, their state, and when to run.

:func:`build` makes one anchor per configured entry (``anchors.evm.NAME``,
``anchors.tsa.NAME``, ``anchors.witnesses.NAME``, plus the ledger's own) from
:data:`copyseal.anchors.ANCHORS`; :func:`run` anchors the newest signed checkpoint with
each of them that has not anchored that size yet; :func:`status` says where each stands;
:func:`due` and :func:`run_if_due` are what the pipeline calls after sealing (at most every
``anchors.every_seconds``).

State lives in ``anchor_records`` (:mod:`copyseal.db.schema.anchors`), one row per
(kind, name, checkpoint size). A row is written ``sent`` *before* the anchor is called, so
a process killed between sending and recording leaves a row to find again; it moves
forward only: ``sent`` → ``anchored`` (the anchor's record payload kept) → ``confirmed``,
or ``sent`` → ``failed`` (error, attempts in a row, and ``retry_at`` after an exponential,
capped back-off), and a failed row is sent again later. Nothing recorded as anchored is
ever overwritten by a new send.

Optional hooks a kind may offer beside the :class:`~copyseal.anchors.Anchor` protocol
(found by duck typing):

- ``find(checkpoint) -> AnchorRecord | None``: look for an anchor of ``checkpoint`` that
  was sent but never recorded (a transaction on a chain); called for a ``sent`` row left
  by a killed process before sending again.
- ``confirm(record) -> AnchorRecord | None``: the record once final (enough confirmations;
  a kind re-anchors if its block was reorganised away), or None while not yet. A kind
  without it is final when anchored (``confirmed`` at once).
- ``describe(record) -> Mapping``: extra JSON-safe fields for ``anchors run --json``
  (``tx_hash``, ``gen_time``, ``cosignature``, …); without it they are read from the
  record's payload as the known kinds write it (:mod:`copyseal.anchors._describe`, which
  also keeps an RFC 3161 token as a ``.tsr`` file in the evidence store).
- ``deploy() -> Mapping | object`` with ``contract``, ``tx_hash``, ``block_number``: what
  ``copyseal anchors deploy NAME`` calls; the workspace remembers the deployment, so an
  entry with ``contract: null`` gets its address in its options afterwards.

One anchor's failure never stops the others and never raises from :func:`run`.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update

from copyseal.anchors._build import Configured, build, check_secret
from copyseal.anchors._describe import describe, keep_files
from copyseal.anchors._publish import (
    bundle_proof,
    checkpoint_proof,
    deploy,
    entry_proof,
    work_proof,
)
from copyseal.anchors._readback import ReadBack, disagreement, read_back
from copyseal.anchors._state import (
    ANCHORED,
    CONFIRMED,
    DONE,
    FAILED,
    SENT,
    anchored_notes,
    backoff,
    get_row,
    latest_row,
    move,
    record_of,
    records_covering,
)
from copyseal.anchors.base import Anchor, AnchorRecord
from copyseal.db.schema.anchors import ANCHOR_RECORDS as _ROWS
from copyseal.db.sql import insert_or_ignore
from copyseal.errors import AnchorError, CopysealError
from copyseal.ledger.checkpoint import Checkpoint
from copyseal.times import iso, now, utc_or_none
from copyseal.workspace import Workspace

__all__ = [
    "ANCHORED",
    "CONFIRMED",
    "FAILED",
    "SENT",
    "Configured",
    "ReadBack",
    "anchored_notes",
    "backoff",
    "build",
    "bundle_proof",
    "check_secret",
    "checkpoint_proof",
    "deploy",
    "disagreement",
    "due",
    "entry_proof",
    "read_back",
    "records_covering",
    "run",
    "run_if_due",
    "status",
    "work_proof",
]

log = logging.getLogger(__name__)


def _result(ws: Workspace, row: Any, anchor: Anchor | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": row.kind,
        "name": row.name,
        "size": int(row.tree_size),
        "root": base64.b64encode(bytes(row.root_hash)).decode("ascii"),
        "checkpoint": row.note,
        "status": row.status,
        "anchored_at": iso(utc_or_none(row.anchored_at)),
    }
    if row.status == FAILED or row.status == SENT:
        data["error"] = row.error or "sent but not recorded (interrupted)"
        data["attempts"] = row.attempts
        data["retry_at"] = iso(utc_or_none(row.retry_at))
    elif row.payload is not None:
        try:
            extra = describe(anchor, record_of(row), ws.store)
        except CopysealError as e:
            extra = {"describe_error": str(e)}
        data.update({k: v for k, v in extra.items() if k not in data})
    return data


# -- running ---------------------------------------------------------------------------


def _store(conn: Connection, key: tuple[str, str, int], record: AnchorRecord, final: bool) -> None:
    move(
        conn,
        key,
        (SENT,),
        status=CONFIRMED if final else ANCHORED,
        payload=record.payload,
        anchored_at=record.anchored_at,
        error=None,
        retry_at=None,
    )


def _fail(conn: Connection, key: tuple[str, str, int], attempts: int, error: str) -> None:
    attempts += 1
    move(
        conn,
        key,
        (SENT,),
        status=FAILED,
        error=error,
        attempts=attempts,
        retry_at=now() + backoff(attempts),
    )


def _message(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{e.__class__.__name__}: {text}" if text else e.__class__.__name__


def _one(
    ws: Workspace,
    c: Configured,
    checkpoint: Checkpoint,
    note: str,
    *,
    wait: bool,
    respect_backoff: bool,
) -> dict[str, Any]:
    key = (c.kind, c.name, checkpoint.size)
    clock = now()
    with ws.engine.begin() as conn:
        row = get_row(conn, *key)
        if row is None:
            prev = latest_row(conn, c.kind, c.name)
            carried = prev.attempts if prev is not None and prev.status == FAILED else 0
            if (
                respect_backoff
                and prev is not None
                and prev.status == FAILED
                and utc_or_none(prev.retry_at) is not None
                and utc_or_none(prev.retry_at) > clock  # type: ignore[operator]
            ):
                return _result(ws, prev, c.anchor)
            insert_or_ignore(
                conn,
                _ROWS,
                {
                    "kind": c.kind,
                    "name": c.name,
                    "tree_size": checkpoint.size,
                    "root_hash": checkpoint.root,
                    "note": note,
                    "status": SENT,
                    "attempts": carried,
                    "created_at": clock,
                    "updated_at": clock,
                },
                index_elements=["kind", "name", "tree_size"],
            )
            row = get_row(conn, *key)
            resend = False
        else:
            resend = row.status == SENT
        if row.status == FAILED:
            retry_at = utc_or_none(row.retry_at)
            if respect_backoff and retry_at is not None and retry_at > clock:
                return _result(ws, row, c.anchor)
            move(conn, key, (FAILED,), status=SENT)
            row = get_row(conn, *key)
    anchor = c.anchor
    if row.status in DONE:
        if row.status == ANCHORED and wait and anchor is not None:
            _confirm(ws, anchor, row)
        with ws.engine.connect() as conn:
            return _result(ws, get_row(conn, *key), anchor)
    attempts = int(row.attempts)
    try:
        if anchor is None:
            raise AnchorError(c.error or "not built")
        record: AnchorRecord | None = None
        find = getattr(anchor, "find", None)
        if resend and callable(find):
            record = find(checkpoint)
            if record is not None:
                log.info("anchor found again", extra={"kind": c.kind, "anchor": c.name})
        if record is None:
            record = anchor.anchor(checkpoint)
        final = not callable(getattr(anchor, "confirm", None))
        with ws.engine.begin() as conn:
            _store(conn, key, record, final)
        try:
            keep_files(ws.store, record)
        except (CopysealError, OSError) as e:  # the record (with its token) is in the database
            log.warning("anchor file not kept", extra={"anchor": c.name, "error": _message(e)})
        log.info(
            "checkpoint anchored",
            extra={"kind": c.kind, "anchor": c.name, "size": checkpoint.size},
        )
    except Exception as e:  # one anchor's failure (its error, the network, a bug) stays its own
        log.warning(
            "anchoring failed",
            extra={"kind": c.kind, "anchor": c.name, "error": _message(e)},
        )
        with ws.engine.begin() as conn:
            _fail(conn, key, attempts, _message(e))
    with ws.engine.connect() as conn:
        row = get_row(conn, *key)
    if row.status == ANCHORED and wait and anchor is not None:
        _confirm(ws, anchor, row)
        with ws.engine.connect() as conn:
            row = get_row(conn, *key)
    return _result(ws, row, anchor)


def _confirm(ws: Workspace, anchor: Anchor, row: Any) -> None:
    """Ask a kind with a ``confirm`` hook whether an anchored record is final."""
    confirm = getattr(anchor, "confirm", None)
    if not callable(confirm):
        return
    key = (row.kind, row.name, int(row.tree_size))
    try:
        record = confirm(record_of(row))
    except Exception as e:  # kept anchored; confirmed on a later run
        log.warning("confirmation failed", extra={"anchor": row.name, "error": _message(e)})
        with ws.engine.begin() as conn:
            conn.execute(
                update(_ROWS)
                .where(_ROWS.c.kind == key[0], _ROWS.c.name == key[1], _ROWS.c.tree_size == key[2])
                .values(error=_message(e), updated_at=now())
            )
        return
    if record is None:
        return
    with ws.engine.begin() as conn:
        move(
            conn,
            key,
            (ANCHORED,),
            status=CONFIRMED,
            payload=record.payload,
            anchored_at=record.anchored_at or utc_or_none(row.anchored_at),
            error=None,
        )


def run(
    ws: Workspace,
    *,
    wait: bool = True,
    respect_backoff: bool = False,
    anchors: Sequence[Configured] | None = None,
) -> list[dict[str, Any]]:
    """Anchor the newest signed checkpoint with every anchor that has not anchored it yet.

    Args:
        ws: The workspace.
        wait: Also wait for anchored records to become final (kinds with ``confirm``).
        respect_backoff: Skip anchors still waiting after a failure (the pipeline's
            runs); on demand, every anchor is tried now.
        anchors: The anchors (default: :func:`build`).

    Returns:
        One ``anchors run --json`` object per anchor (``error`` for a failed one). An
        empty log has nothing to anchor: an empty list.
    """
    latest = ws.ledger().latest_checkpoint()
    if latest.size == 0:
        return []
    chosen = build(ws) if anchors is None else anchors
    return [
        _one(ws, c, latest.checkpoint, latest.note, wait=wait, respect_backoff=respect_backoff)
        for c in chosen
    ]


def status(ws: Workspace, *, anchors: Sequence[Configured] | None = None) -> list[dict[str, Any]]:
    """Per configured anchor: ``{"kind", "name", "anchored_size", "anchored_at",
    "pending_entries", "last_error", "status", "attempts", "retry_at"}``."""
    size = ws.ledger().size()
    chosen = build(ws) if anchors is None else anchors
    out = []
    with ws.engine.connect() as conn:
        for c in chosen:
            done = conn.execute(
                select(_ROWS)
                .where(_ROWS.c.kind == c.kind, _ROWS.c.name == c.name, _ROWS.c.status.in_(DONE))
                .order_by(_ROWS.c.tree_size.desc())
                .limit(1)
            ).first()
            latest = latest_row(conn, c.kind, c.name)
            anchored = 0 if done is None else int(done.tree_size)
            when = None if done is None else utc_or_none(done.anchored_at or done.updated_at)
            error = c.error
            if error is None and latest is not None and latest.status == FAILED:
                error = latest.error
            out.append(
                {
                    "kind": c.kind,
                    "name": c.name,
                    "anchored_size": None if done is None else anchored,
                    "anchored_at": iso(when),
                    "pending_entries": max(size - anchored, 0),
                    "last_error": error,
                    "status": None if latest is None else latest.status,
                    "attempts": 0 if latest is None else int(latest.attempts),
                    "retry_at": None if latest is None else iso(utc_or_none(latest.retry_at)),
                }
            )
    return out


def due(ws: Workspace, *, anchors: Sequence[Configured] | None = None) -> bool:
    """Whether an anchoring run is due: the log has grown past what some anchor holds (and
    that anchor is not waiting out a back-off), and the last run is at least
    ``anchors.every_seconds`` ago."""
    size = ws.ledger().size()
    if size == 0:
        return False
    clock = now()
    every = timedelta(seconds=ws.settings.anchors.every_seconds)
    chosen = build(ws) if anchors is None else anchors
    with ws.engine.connect() as conn:
        last = utc_or_none(conn.execute(select(func.max(_ROWS.c.updated_at))).scalar())
        if last is not None and clock - last < every:
            return False
        for c in chosen:
            row = latest_row(conn, c.kind, c.name)
            if row is None or int(row.tree_size) < size or row.status == SENT:
                return True
            retry_at = utc_or_none(row.retry_at)
            if row.status == FAILED and (retry_at is None or retry_at <= clock):
                return True
    return False


def run_if_due(ws: Workspace) -> list[dict[str, Any]] | None:
    """:func:`run` without waiting and with back-off, when :func:`due`; else None."""
    anchors = build(ws)
    if not due(ws, anchors=anchors):
        return None
    return run(ws, wait=False, respect_backoff=True, anchors=anchors)
