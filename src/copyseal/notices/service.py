"""Writing a case's takedown notice, and recording that it was sent.

:func:`write_notice` renders the notice from the case's facts, writes it atomically and
durably to the chosen file and keeps a read-only copy in the evidence store
(``exports/notices/NOTICE.txt``), then records it (``case_notices``) with its SHA-256.
:func:`mark_sent` appends a ``notice-sent`` statement with that hash to the ledger and
records to whom and when it went, so the timeline can tell "removed N days after notice".
It first claims the row (``sent_at`` set where it was null), then logs, then stores the
ledger index: a crash in between leaves a sent notice without an index, which the next
``mark_sent`` of that notice logs with the recorded address and time.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from copyseal import files
from copyseal.db.schema.record import CaseNotice
from copyseal.ledger import statements
from copyseal.notices._facts import gather
from copyseal.notices._kinds import KINDS, render
from copyseal.notices.sender import NoticeError, Sender
from copyseal.review.cases import get_case
from copyseal.storage import Area
from copyseal.times import iso, now, utc, utc_or_none
from copyseal.workspace import Workspace

__all__ = ["NoticeRecord", "list_notices", "mark_sent", "notice_path", "write_notice"]

#: How far ahead of this machine's clock a "sent at" time may be (clock skew).
_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, kw_only=True)
class NoticeRecord:
    """A notice written for a case, and when and to whom it was sent (None: not yet)."""

    notice_id: str
    case_id: str
    kind: str
    file_name: str
    sha256: str
    size: int
    created_by: str
    created_at: datetime
    sent_to: str | None
    sent_at: datetime | None
    ledger_index: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "notice_id": self.notice_id,
            "case_id": self.case_id,
            "kind": self.kind,
            "file_name": self.file_name,
            "sha256": self.sha256,
            "size": self.size,
            "created_by": self.created_by,
            "created_at": iso(self.created_at),
            "sent_to": self.sent_to,
            "sent_at": iso(self.sent_at),
            "ledger_index": self.ledger_index,
        }


def _record(row: CaseNotice) -> NoticeRecord:
    return NoticeRecord(
        notice_id=row.notice_id,
        case_id=row.case_id,
        kind=row.kind,
        file_name=row.file_name,
        sha256=row.sha256,
        size=row.size,
        created_by=row.created_by,
        created_at=utc(row.created_at),
        sent_to=row.sent_to,
        sent_at=utc_or_none(row.sent_at),
        ledger_index=row.ledger_index,
    )


def notice_path(ws: Workspace, record: NoticeRecord) -> Path:
    """The evidence store's copy of a notice."""
    return ws.store.path(Area.EXPORTS, record.file_name)


def write_notice(
    ws: Workspace, case_id: str, *, kind: str, sender: Sender, out: Path, created_by: str
) -> NoticeRecord:
    """Write case ``case_id``'s notice of ``kind`` to ``out`` (never overwritten) and
    record it.

    Raises:
        NotFound: no such case.
        NoticeError: an unknown kind, ``out`` exists, or the case has no sealed match.
    """
    if kind not in KINDS:
        raise NoticeError(f"unknown notice kind {kind!r}; one of {', '.join(KINDS)}")
    if out.exists():
        raise NoticeError(f"{out}: exists already; refusing to overwrite it")
    facts = gather(ws, case_id)
    notice_id = "notice-" + secrets.token_hex(6)
    at = now()
    data = render(kind, facts, sender, notice_id, at).encode("utf-8")
    name = f"notices/{notice_id}.txt"
    # The kept copy first: a notice handed out always has its evidence copy.
    ws.store.publish_bytes(Area.EXPORTS, name, data)
    try:
        files.publish_bytes(out, data)
    except FileExistsError as e:
        raise NoticeError(f"{out}: exists already; refusing to overwrite it") from e
    except OSError as e:
        raise NoticeError(f"{out}: cannot be written ({e})") from e
    row = CaseNotice(
        notice_id=notice_id,
        case_id=case_id,
        kind=kind,
        file_name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        created_by=created_by,
        created_at=at,
    )
    with Session(ws.engine) as s, s.begin():
        s.add(row)
        s.flush()
        return _record(row)


def list_notices(ws: Workspace, case_id: str) -> list[NoticeRecord]:
    """A case's notices, oldest first (:class:`NotFound` for no such case)."""
    get_case(ws, case_id)
    with Session(ws.engine) as s:
        rows = s.scalars(
            select(CaseNotice)
            .where(CaseNotice.case_id == case_id)
            .order_by(CaseNotice.created_at, CaseNotice.notice_id)
        ).all()
        return [_record(r) for r in rows]


def _choose(notices: list[NoticeRecord], case_id: str, notice_id: str | None) -> NoticeRecord:
    if notice_id is not None:
        found = [n for n in notices if n.notice_id == notice_id]
        if not found:
            raise NoticeError(f"case {case_id} has no notice {notice_id!r}")
        return found[0]
    unsent = [n for n in notices if n.sent_at is None or n.ledger_index is None]
    if not unsent:
        raise NoticeError(
            f"case {case_id} has no unsent notice"
            + ("" if notices else ": write one with 'copyseal cases notice'")
        )
    if len(unsent) > 1:
        names = ", ".join(n.notice_id for n in unsent)
        raise NoticeError(f"case {case_id} has {len(unsent)} unsent notices ({names}); name one")
    return unsent[0]


def _check_copy(ws: Workspace, record: NoticeRecord) -> None:
    """The kept copy, if present, must still be the file that was hashed."""
    try:
        data = notice_path(ws, record).read_bytes()
    except FileNotFoundError:
        return
    if hashlib.sha256(data).hexdigest() != record.sha256:
        raise NoticeError(
            f"notice {record.notice_id}: its kept copy {record.file_name} no longer has the"
            " recorded SHA-256; refusing to log it as sent"
        )


def mark_sent(
    ws: Workspace, case_id: str, *, to: str, at: datetime, notice_id: str | None = None
) -> NoticeRecord:
    """Record that a notice of case ``case_id`` was sent to ``to`` at ``at``, with a
    ``notice-sent`` ledger statement naming its SHA-256.

    ``notice_id`` None: the case's one unsent notice.

    Raises:
        NotFound: no such case.
        NoticeError: no such notice, several unsent ones, already sent, an empty address,
            a time before the notice was written or in the future, or a changed copy.
    """
    to = " ".join(to.split())
    if not to:
        raise NoticeError("a sent notice needs the address it was sent to (--to)")
    if at.tzinfo is None:
        at = utc(at)
    record = _choose(list_notices(ws, case_id), case_id, notice_id)
    if record.ledger_index is not None:
        raise NoticeError(
            f"notice {record.notice_id} was marked sent to {record.sent_to} on"
            f" {iso(record.sent_at)} already (ledger entry {record.ledger_index})"
        )
    if record.sent_at is None:
        if at < record.created_at:
            raise NoticeError(
                f"--at {iso(at)} is before notice {record.notice_id} was written"
                f" ({iso(record.created_at)})"
            )
        if at > now() + _SKEW:
            raise NoticeError(f"--at {iso(at)} is in the future")
        _check_copy(ws, record)
        with ws.engine.begin() as conn:
            claimed = conn.execute(
                update(CaseNotice)
                .where(CaseNotice.notice_id == record.notice_id, CaseNotice.sent_at.is_(None))
                .values(sent_to=to, sent_at=at)
            )
        if claimed.rowcount != 1:
            raise NoticeError(f"notice {record.notice_id} was marked sent meanwhile")
    else:
        # Claimed by an earlier run that stopped before logging: log what it recorded.
        to, at = record.sent_to or to, record.sent_at
    statement = statements.notice_sent(
        case_id=case_id,
        notice_id=record.notice_id,
        kind=record.kind,
        notice_sha256=record.sha256,
        sent_to=to,
        sent_at=at,
        time=now(),
    )
    (index,) = ws.ledger().append([(statements.NOTICE_SENT, statement)])
    with Session(ws.engine) as s, s.begin():
        s.execute(
            update(CaseNotice)
            .where(CaseNotice.notice_id == record.notice_id)
            .values(ledger_index=index)
        )
    (done,) = [n for n in list_notices(ws, case_id) if n.notice_id == record.notice_id]
    return done
