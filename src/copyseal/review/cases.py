"""Cases: confirmed matches grouped against one infringer, ready for export.

Only confirmed matches may join a case (no claim goes out on an unreviewed machine
match); a case is usually about one domain, which is recorded when all its matches share
one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from copyseal.db.schema.review import Case, CaseMatch, Export
from copyseal.review.errors import NotFound, ReviewError
from copyseal.review.queue import statuses
from copyseal.review.users import UserRecord, require
from copyseal.times import iso, now, utc
from copyseal.workspace import Workspace

__all__ = ["CaseRecord", "ExportRecord", "add_matches", "create_case", "get_case", "list_cases"]


@dataclass(frozen=True, kw_only=True)
class ExportRecord:
    """A package exported for a case."""

    file_name: str
    package_sha256: str
    size: int
    recipient: str
    exported_by: str
    exported_at: datetime
    ledger_index: int

    def to_json(self) -> dict[str, Any]:
        return {
            "file_name": self.file_name,
            "package_sha256": self.package_sha256,
            "size": self.size,
            "recipient": self.recipient,
            "exported_by": self.exported_by,
            "exported_at": iso(self.exported_at),
            "ledger_index": self.ledger_index,
        }


@dataclass(frozen=True, kw_only=True)
class CaseRecord:
    """A case, its matches (by id, in the order they were added) and its exports."""

    case_id: str
    title: str
    domain: str | None
    created_by: str
    created_at: datetime
    match_ids: tuple[int, ...]
    exports: tuple[ExportRecord, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "title": self.title,
            "domain": self.domain,
            "created_by": self.created_by,
            "created_at": iso(self.created_at),
            "match_ids": list(self.match_ids),
            "exports": [e.to_json() for e in self.exports],
        }


def _confirmed(ws: Workspace, match_ids: list[int]) -> list[str]:
    items = statuses(ws, match_ids)
    for match_id in match_ids:
        item = items.get(match_id)
        if item is None:
            raise NotFound(f"no match {match_id}")
        if item.status != "confirmed":
            raise ReviewError(
                f"match {match_id} is {item.status}: only confirmed matches join a case"
            )
    return [items[m].site for m in match_ids]


def create_case(ws: Workspace, user: UserRecord, *, title: str, match_ids: list[int]) -> CaseRecord:
    """Open a case with confirmed matches.

    Raises:
        PermissionDenied: the user's role may not manage cases.
        ReviewError: no title, no matches, or a match that is not confirmed.
    """
    require(user, "cases")
    title = " ".join(title.split())
    if not 0 < len(title) <= 255:
        raise ReviewError("a case needs a title of 1-255 characters")
    ids = list(dict.fromkeys(match_ids))
    if not ids:
        raise ReviewError("a case needs at least one confirmed match")
    sites = set(_confirmed(ws, ids))
    at = now()
    case_id = "case-" + secrets.token_hex(4)
    with Session(ws.engine) as s, s.begin():
        s.add(
            Case(
                case_id=case_id,
                title=title,
                domain=sites.pop() if len(sites) == 1 else None,
                created_by=user.name,
                created_at=at,
            )
        )
        s.flush()
        s.add_all(CaseMatch(case_id=case_id, match_id=m, added_at=at) for m in ids)
    return get_case(ws, case_id)


def add_matches(ws: Workspace, user: UserRecord, case_id: str, match_ids: list[int]) -> CaseRecord:
    """Add confirmed matches to a case (those already in it are ignored)."""
    require(user, "cases")
    case = get_case(ws, case_id)
    ids = [m for m in dict.fromkeys(match_ids) if m not in case.match_ids]
    sites = set(_confirmed(ws, ids))
    at = now()
    try:
        with Session(ws.engine) as s, s.begin():
            s.add_all(CaseMatch(case_id=case_id, match_id=m, added_at=at) for m in ids)
            row = s.get(Case, case_id)
            if row is not None and row.domain is not None and sites - {row.domain}:
                row.domain = None
    except IntegrityError as e:
        raise ReviewError(f"case {case_id} changed meanwhile; try again") from e
    return get_case(ws, case_id)


def _record(s: Session, row: Case) -> CaseRecord:
    match_ids = s.scalars(
        select(CaseMatch.match_id)
        .where(CaseMatch.case_id == row.case_id)
        .order_by(CaseMatch.added_at, CaseMatch.match_id)
    ).all()
    exports = s.scalars(
        select(Export).where(Export.case_id == row.case_id).order_by(Export.id)
    ).all()
    return CaseRecord(
        case_id=row.case_id,
        title=row.title,
        domain=row.domain,
        created_by=row.created_by,
        created_at=utc(row.created_at),
        match_ids=tuple(match_ids),
        exports=tuple(
            ExportRecord(
                file_name=e.file_name,
                package_sha256=e.package_sha256,
                size=e.size,
                recipient=e.recipient,
                exported_by=e.exported_by,
                exported_at=utc(e.exported_at),
                ledger_index=e.ledger_index,
            )
            for e in exports
        ),
    )


def get_case(ws: Workspace, case_id: str) -> CaseRecord:
    """One case (:class:`NotFound` if none)."""
    with Session(ws.engine) as s:
        row = s.get(Case, case_id)
        if row is None:
            raise NotFound(f"no case {case_id!r}")
        return _record(s, row)


def list_cases(ws: Workspace) -> list[CaseRecord]:
    """Every case, newest first."""
    with Session(ws.engine) as s:
        rows = s.scalars(select(Case).order_by(Case.created_at.desc(), Case.case_id)).all()
        return [_record(s, r) for r in rows]
