"""Server-rendered pages: cases, exports and user management."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse
from starlette.responses import Response

from copyseal.export import export_case, export_path, export_receipt
from copyseal.notices import list_notices
from copyseal.review.cases import add_matches, create_case, get_case, list_cases
from copyseal.review.errors import NotFound
from copyseal.review.queue import QueueFilter, queue, statuses
from copyseal.review.users import ROLES, add_user, list_users, require, update_user
from copyseal.web._context import CurrentSession, FormSession, ctx_of, render
from copyseal.web._forms import FLASH

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.strip().isdigit()]


@router.get("/cases")
def cases_page(request: Request, session: CurrentSession) -> Response:
    ws = ctx_of(request).ws
    confirmed = queue(ws, QueueFilter(status="confirmed", limit=500, sort="oldest")).items
    by_site: dict[str, list[dict[str, object]]] = defaultdict(list)
    for item in confirmed:
        if not item.cases:
            by_site[item.site].append(item.to_json())
    return render(
        request,
        "cases.html",
        session,
        cases=[c.to_json() for c in list_cases(ws)],
        available=dict(sorted(by_site.items())),
        can_manage=session.user.can("cases"),
        message=FLASH.get(request.query_params.get("flash", ""), ""),
    )


@router.post("/cases")
def create_case_form(
    request: Request,
    session: FormSession,
    title: Annotated[str, Form()],
    match_ids: Annotated[list[str], Form()],
) -> Response:
    case = create_case(ctx_of(request).ws, session.user, title=title, match_ids=_ids(match_ids))
    return RedirectResponse(f"/cases/{case.case_id}?flash=case", status_code=303)


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: str, session: CurrentSession) -> Response:
    ws = ctx_of(request).ws
    case = get_case(ws, case_id)
    items = statuses(ws, list(case.match_ids))
    addable = [
        i.to_json()
        for i in queue(ws, QueueFilter(status="confirmed", limit=500, sort="oldest")).items
        if case_id not in i.cases
    ]
    return render(
        request,
        "case.html",
        session,
        case=case.to_json(),
        notices=[n.to_json() for n in list_notices(ws, case_id)],
        matches=[items[m].to_json() for m in case.match_ids if m in items],
        addable=addable,
        can_manage=session.user.can("cases"),
        can_export=session.user.can("export"),
        message=FLASH.get(request.query_params.get("flash", ""), ""),
    )


@router.post("/cases/{case_id}/matches")
def add_matches_form(
    request: Request,
    case_id: str,
    session: FormSession,
    match_ids: Annotated[list[str], Form()],
) -> Response:
    add_matches(ctx_of(request).ws, session.user, case_id, _ids(match_ids))
    return RedirectResponse(f"/cases/{case_id}?flash=added", status_code=303)


@router.post("/cases/{case_id}/export")
def export_form(
    request: Request,
    case_id: str,
    session: FormSession,
    recipient: Annotated[str, Form()] = "",
) -> Response:
    require(session.user, "export")
    export_case(
        ctx_of(request).ws,
        case_id,
        exported_by=session.user.name,
        recipient=recipient or "not stated",
    )
    return RedirectResponse(f"/cases/{case_id}?flash=exported", status_code=303)


@router.get("/cases/{case_id}/exports/{file_name}")
def download_export(
    request: Request, case_id: str, file_name: str, session: CurrentSession
) -> Response:
    require(session.user, "export")
    ws = ctx_of(request).ws
    case = get_case(ws, case_id)
    if file_name not in {e.file_name for e in case.exports}:
        raise NotFound(f"case {case_id} has no export {file_name!r}")
    path = export_path(ws, file_name)
    if not path.is_file():
        raise NotFound(f"export {file_name!r} is no longer on disk")
    return FileResponse(path, media_type="application/zip", filename=path.name)


def _receipt_download(body: bytes, media_type: str, name: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/cases/{case_id}/receipts/export-{ledger_index:int}.json")
def download_export_statement(
    request: Request, case_id: str, ledger_index: int, session: CurrentSession
) -> Response:
    """The export's ``export`` ledger statement, byte for byte."""
    require(session.user, "export")
    statement, _ = export_receipt(ctx_of(request).ws, case_id, ledger_index)
    name = f"{case_id}-export-{ledger_index}.json"
    return _receipt_download(statement, "application/json", name)


@router.get("/cases/{case_id}/receipts/export-{ledger_index:int}.tlog-proof")
def download_export_receipt(
    request: Request, case_id: str, ledger_index: int, session: CurrentSession
) -> Response:
    """The export statement's C2SP tlog-proof receipt (``copyseal verify RECEIPT``)."""
    require(session.user, "export")
    _, receipt = export_receipt(ctx_of(request).ws, case_id, ledger_index)
    name = f"{case_id}-export-{ledger_index}.tlog-proof"
    return _receipt_download(receipt.encode("utf-8"), "text/plain; charset=utf-8", name)


@router.get("/admin/users")
def users_page(request: Request, session: CurrentSession) -> Response:
    require(session.user, "users")
    return render(
        request,
        "users.html",
        session,
        users=[u.to_json() for u in list_users(ctx_of(request).ws)],
        roles=ROLES,
        message=FLASH.get(request.query_params.get("flash", ""), ""),
    )


@router.post("/admin/users")
def add_user_form(
    request: Request,
    session: FormSession,
    name: Annotated[str, Form()],
    role: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    require(session.user, "users")
    add_user(ctx_of(request).ws, name=name, role=role, password=password)
    return RedirectResponse("/admin/users?flash=user", status_code=303)


@router.post("/admin/users/{name}")
def update_user_form(
    request: Request,
    name: str,
    session: FormSession,
    role: Annotated[str, Form()],
    disabled: Annotated[str, Form()] = "",
) -> Response:
    require(session.user, "users")
    update_user(ctx_of(request).ws, name, role=role, disabled=bool(disabled), by=session.user)
    return RedirectResponse("/admin/users?flash=user", status_code=303)
