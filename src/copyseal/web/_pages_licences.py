"""Server-rendered pages: a work, with its licences and the queue of its matches."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from copyseal.db.models import Work
from copyseal.errors import CopysealError
from copyseal.licences import list_licences
from copyseal.review.errors import NotFound
from copyseal.review.queue import QueueFilter, queue
from copyseal.times import iso
from copyseal.web._context import CurrentSession, ctx_of, render
from copyseal.workspace import Workspace

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/works/{work_id}")
def work_page(request: Request, work_id: str, session: CurrentSession) -> Response:
    ws = ctx_of(request).ws
    with Session(ws.engine) as s:
        work = s.get(Work, work_id)
        if work is None:
            raise NotFound(f"no work {work_id}")
        facts = {
            "work_id": work.work_id,
            "title": work.title,
            "owner": work.owner,
            "sha256": work.sha256,
            "registered_at": iso(work.registered_at),
            "removed_at": iso(work.removed_at),
        }
    counts = queue(ws, QueueFilter(work_id=work_id, limit=1)).counts
    offers, market_note = _market_offers(ws, work_id)
    return render(
        request,
        "work.html",
        session,
        work=facts,
        licences=[r.to_json() for r in list_licences(ws, work_id=work_id)],
        counts=counts,
        offers=offers,
        market_note=market_note,
    )


def _market_offers(ws: Workspace, work_id: str) -> tuple[list[dict[str, Any]], str | None]:
    """The work's offers on the licence market, read from the chain now (sales are the
    licences with source ``market``); none when no chain is configured, and a note instead
    of an error when the node cannot be asked, so the page always shows."""
    if not ws.settings.anchors.evm:
        return [], None
    from copyseal.market import offers

    try:
        return [o for o in offers(ws) if o["work_id"] == work_id], None
    except CopysealError as e:
        return [], f"the market's offers could not be read: {e}"
