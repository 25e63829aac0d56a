"""Server-rendered pages: login, dashboard, review queue, match page, bundle files."""

from __future__ import annotations

import math
import secrets
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse
from starlette.responses import Response

from copyseal.review import dashboard as dashboard_module
from copyseal.review.decisions import REJECT_REASONS, decide
from copyseal.review.errors import AuthError, Throttled
from copyseal.review.evidence import anchor_proof_of, bundle_file, bundle_path_of
from copyseal.review.queue import match_item, queue
from copyseal.review.shown import verify_shown_match
from copyseal.review.users import authenticate, end_session, start_session
from copyseal.web._charts import bars
from copyseal.web._context import CurrentSession, FormSession, ctx_of, render
from copyseal.web._forms import FLASH, queue_filter, queue_query, safe_next
from copyseal.web._security import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    set_cookie,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _login_page(request: Request, *, error: str = "", status: int = 200) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        None,
        status_code=status,
        login_token=nonce,
        error=error,
        next=safe_next(request.query_params.get("next")),
    )
    set_cookie(response, request, LOGIN_COOKIE, ctx_of(request).signer.login_cookie(nonce))
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
def login(
    request: Request,
    name: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    ctx = ctx_of(request)
    expected = ctx.signer.login_nonce(request.cookies.get(LOGIN_COOKIE))
    check_csrf(expected or secrets.token_hex(16), csrf_token)
    remote = request.client.host if request.client else "unknown"
    try:
        user = authenticate(ctx.ws, name=name, password=password, remote=remote)
    except Throttled as e:
        response = _login_page(request, error=str(e), status=429)
        response.headers["Retry-After"] = str(math.ceil(e.retry_after))
        return response
    except AuthError as e:
        return _login_page(request, error=str(e), status=401)
    token, _ = start_session(ctx.ws, user)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(response, request, SESSION_COOKIE, ctx.signer.session_cookie(token))
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, session: FormSession) -> Response:
    ctx = ctx_of(request)
    token = ctx.signer.session_token(request.cookies.get(SESSION_COOKIE))
    if token:
        end_session(ctx.ws, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
def dashboard_page(request: Request, session: CurrentSession) -> Response:
    ctx = ctx_of(request)
    board = dashboard_module.dashboard(ctx.ws, verify=False)
    states = ctx.bundle_states()
    board_json = board.to_json()
    return render(
        request,
        "dashboard.html",
        session,
        board=board_json,
        bundles=[b.to_json() for b in states],
        bundles_ok=sum(1 for b in states if b.ok),
        bundles_failed=sum(1 for b in states if b.ok is False),
        status_chart=bars(list(board.matches.items())),
        domain_chart=bars([(s, n) for s, n, _ in board.top_domains]),
        pages_chart=bars(sorted(board.pages.items())),
    )


@router.get("/queue")
def queue_page(request: Request, session: CurrentSession) -> Response:
    params = dict(request.query_params)
    f = queue_filter(params)
    page = queue(ctx_of(request).ws, f)
    query = queue_query(params)
    number = f.offset // f.limit + 1
    return render(
        request,
        "queue.html",
        session,
        page=page.to_json(),
        params=query,
        query=urlencode(query),
        page_number=number,
        prev_query=urlencode({**query, "page": number - 1}) if number > 1 else None,
        next_query=urlencode({**query, "page": number + 1})
        if f.offset + f.limit < page.total
        else None,
        count_queries={
            s: urlencode({**{k: v for k, v in query.items() if k != "status"}, "status": s})
            for s in page.counts
        },
    )


@router.get("/matches/{match_id}")
def match_page(request: Request, match_id: int, session: CurrentSession) -> Response:
    ctx = ctx_of(request)
    params = dict(request.query_params)
    query = queue_query(params)
    item = match_item(ctx.ws, match_id, f=queue_filter({"status": "new", **query}))
    # Checked against the rows shown with it too (a row can change without the evidence).
    verification = verify_shown_match(ctx.ws, item)
    return render(
        request,
        "match.html",
        session,
        m=item.to_json(),
        verification=verification.to_json() if verification else None,
        verified=verification.ok if verification else None,
        reasons=REJECT_REASONS,
        query=urlencode(query),
        message=FLASH.get(params.get("flash", ""), ""),
        can_decide=session.user.can("decide"),
    )


@router.post("/matches/{match_id}/decide")
def decide_form(
    request: Request,
    match_id: int,
    session: FormSession,
    decision: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
    query: Annotated[str, Form()] = "",
) -> Response:
    decide(
        ctx_of(request).ws,
        session.user,
        match_id=match_id,
        decision=decision,
        reason=reason or None,
        comment=comment,
    )
    back = (
        f"/matches/{match_id}?" + urlencode({"flash": "decided"}) + (f"&{query}" if query else "")
    )
    return RedirectResponse(back, status_code=303)


@router.get("/matches/{match_id}/anchor-proof")
def match_anchor_proof(request: Request, match_id: int, session: CurrentSession) -> Response:
    """The match's bundle's anchor proof file (``copyseal bundles anchor-proof``), built
    now from the anchored checkpoints that cover it (404 while none does)."""
    name, data = anchor_proof_of(ctx_of(request).ws, match_id)
    return Response(
        data,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "no-store",
        },
    )


@router.get("/matches/{match_id}/files/{name:path}")
def match_file(request: Request, match_id: int, name: str, session: CurrentSession) -> Response:
    found = bundle_file(bundle_path_of(ctx_of(request).ws, match_id), name)
    inline = found.media_type.split(";")[0].strip() in {
        "image/png",
        "image/jpeg",
        "image/webp",
        "image/gif",
    }
    response = FileResponse(
        found.path,
        media_type=found.media_type if inline else "application/octet-stream",
        filename=None if inline else found.path.name,
        headers={
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=3600",
        },
    )
    return response
