"""A visit on record: its ``match_visits`` row, its ``continued-use`` statement, its result.

The row is written when the visit starts (``error`` "interrupted before the visit was
sealed") and completed at its end, so a visit killed mid-way stays on record and the next
run simply visits again; the statement is appended after the bundle is sealed (the bundle
has its own ledger entry) and names it by id and manifest hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from copyseal import times
from copyseal.bundle import BundleInfo
from copyseal.db.schema.record import MatchVisit
from copyseal.errors import RevisitError
from copyseal.revisit._select import KnownUse
from copyseal.workspace import Workspace

__all__ = ["VisitResult", "finish_row", "log_visit", "start_row"]

#: ``match_visits.error`` while a visit is under way (and after one that was killed).
INTERRUPTED = "interrupted before the visit was sealed"


@dataclass(frozen=True, kw_only=True)
class VisitResult:
    """One visit: its result (None when it failed, see ``error``), bundle and statement."""

    match_id: int
    page_url: str
    result: str | None
    bundle: BundleInfo | None = None
    similarity: float | None = None
    ledger_index: int | None = None
    error: str | None = None
    reason: str | None = None
    found_page_url: str | None = None
    found_image_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        """One element of ``copyseal revisit --json`` (the README's contract)."""
        return {
            "match_id": self.match_id,
            "page_url": self.page_url,
            "result": self.result,
            "bundle": None
            if self.bundle is None
            else {"bundle_id": self.bundle.bundle_id, "path": str(self.bundle.path)},
            "similarity": None if self.similarity is None else round(self.similarity, 4),
            "ledger_index": self.ledger_index,
            "error": self.error,
        }


def start_row(ws: Workspace, use: KnownUse) -> int:
    """Write the visit's row before anything is fetched; its id."""
    with Session(ws.engine) as db:
        row = MatchVisit(
            match_id=use.match_id,
            page_url=use.page_url,
            visited_at=times.now(),
            error=INTERRUPTED,
        )
        db.add(row)
        db.commit()
        return row.id


def finish_row(ws: Workspace, row_id: int, **values: Any) -> None:
    """Complete the visit's row (``result``, bundle, statement, or ``error``)."""
    with Session(ws.engine) as db:
        row = db.get(MatchVisit, row_id)
        if row is None:  # pragma: no cover - rows are never deleted while visiting
            raise RevisitError(f"visit {row_id}: its row disappeared")
        for key, value in values.items():
            setattr(row, key, value)
        db.commit()


def log_visit(
    ws: Workspace,
    use: KnownUse,
    *,
    result: str,
    reason: str,
    bundle: BundleInfo,
    similarity: float | None,
    found_page_url: str | None,
    found_image_url: str | None,
    at: datetime,
) -> int:
    """Append the visit's ``continued-use`` statement; its ledger index."""
    from copyseal.ledger.statements import CONTINUED_USE, continued_use

    data = continued_use(
        match_id=use.match_id,
        work_id=use.work_id,
        page_url=use.page_url,
        result=result,
        bundle_id=bundle.bundle_id,
        manifest_sha256=bundle.manifest_sha256,
        time=at,
        similarity=None if similarity is None else f"{similarity:.4f}",
        found_page_url=found_page_url,
        found_image_url=found_image_url,
        reason=reason,
    )
    return ws.ledger().append([(CONTINUED_USE, data)])[0]
