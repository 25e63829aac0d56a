"""The JSON API under ``/api``: the same library calls as the pages, for scripts.

Log in with ``POST /api/login`` (JSON ``{"name", "password"}``): the answer sets the
session cookie and gives the ``csrf_token`` to send as ``X-CSRF-Token`` on every POST,
PUT, PATCH and DELETE. Errors are ``{"error": message}`` with 400, 401, 403, 404, 422 or 429.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.responses import Response

from copyseal.export import export_case
from copyseal.review import dashboard as dashboard_module
from copyseal.review.cases import add_matches, create_case, get_case, list_cases
from copyseal.review.decisions import decide
from copyseal.review.queue import match_item, queue
from copyseal.review.shown import verify_shown_match
from copyseal.review.users import (
    add_user,
    authenticate,
    end_session,
    list_users,
    require,
    start_session,
    update_user,
)
from copyseal.web._context import ApiSession, CurrentSession, ctx_of
from copyseal.web._forms import queue_filter
from copyseal.web._security import SESSION_COOKIE, set_cookie

__all__ = ["install_openapi", "router"]

router = APIRouter(prefix="/api", tags=["api"])
JSON = dict[str, Any]


class Login(BaseModel):
    name: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class DecisionIn(BaseModel):
    decision: str = Field(description="confirmed, rejected or needs-more-info")
    reason: str | None = Field(
        default=None, description="for a rejection: false-match, licensed-use, own-use, other"
    )
    comment: str = ""


class CaseIn(BaseModel):
    title: str
    match_ids: list[int]


class MatchesIn(BaseModel):
    match_ids: list[int]


class ExportIn(BaseModel):
    recipient: str = "not stated"


class UserIn(BaseModel):
    name: str
    role: str
    password: str


class UserPatch(BaseModel):
    role: str | None = None
    disabled: bool | None = None


@router.post("/login")
def api_login(request: Request, body: Login) -> Response:
    """Log in; sets the session cookie and returns the CSRF token for this session."""
    ctx = ctx_of(request)
    remote = request.client.host if request.client else "unknown"
    user = authenticate(ctx.ws, name=body.name, password=body.password, remote=remote)
    token, info = start_session(ctx.ws, user)
    response = JSONResponse({"user": user.to_json(), "csrf_token": info.csrf_token})
    set_cookie(response, request, SESSION_COOKIE, ctx.signer.session_cookie(token))
    return response


@router.post("/logout")
def api_logout(request: Request, session: ApiSession) -> JSON:
    ctx = ctx_of(request)
    token = ctx.signer.session_token(request.cookies.get(SESSION_COOKIE))
    if token:
        end_session(ctx.ws, token)
    return {"ok": True}


@router.get("/me")
def api_me(session: CurrentSession) -> JSON:
    """Who is logged in, and the session's CSRF token."""
    return {"user": session.user.to_json(), "csrf_token": session.csrf_token}


@router.get("/dashboard")
def api_dashboard(request: Request, session: CurrentSession) -> JSON:
    """Works, crawls, pages and images, matches by status, top domains, bundles."""
    ctx = ctx_of(request)
    board = dashboard_module.dashboard(ctx.ws, verify=False).to_json()
    states = ctx.bundle_states()
    board["bundles"] = [b.to_json() for b in states]
    board["bundles_ok"] = sum(1 for b in states if b.ok)
    board["bundles_failed"] = sum(1 for b in states if b.ok is False)
    return board


@router.get("/queue")
def api_queue(
    request: Request,
    session: CurrentSession,
    status: str | None = None,
    site: str | None = None,
    work: str | None = None,
    min_score: float | None = None,
    max_score: float | None = None,
    sort: str = "newest",
    page: int = 1,
    per_page: int = 50,
) -> JSON:
    """The review queue: ``items``, ``total``, ``counts`` per status; also ``from`` and
    ``to`` (dates, YYYY-MM-DD) in the query string."""
    params = {k: v for k, v in request.query_params.items() if k != "per_page"}
    return queue(ctx_of(request).ws, queue_filter(params, per_page=per_page)).to_json()


@router.get("/matches/{match_id}")
def api_match(request: Request, match_id: int, session: CurrentSession) -> JSON:
    """A match: its work, scores, bundle files (manifest paths), decision history and its
    bundle's ``anchors`` (state per configured anchor), with ``anchor_proof_download``
    (the URL of its anchor proof file) once an anchor covers it."""
    data = match_item(ctx_of(request).ws, match_id).to_json()
    covered = any(a["state"] != "pending" for a in data["anchors"])
    data["anchor_proof_download"] = f"/matches/{match_id}/anchor-proof" if covered else None
    return data


@router.get("/matches/{match_id}/verification")
def api_verification(request: Request, match_id: int, session: CurrentSession) -> JSON:
    """The match's bundle verified against the ledger and the rows shown with it now
    (``copyseal verify`` shape, plus the ``record`` and ``entry`` checks)."""
    ws = ctx_of(request).ws
    result = verify_shown_match(ws, match_item(ws, match_id))
    if result is None:
        return {"ok": False, "checks": [], "error": "no evidence bundle"}
    return result.to_json()


@router.post("/matches/{match_id}/decisions", status_code=201)
def api_decide(request: Request, match_id: int, body: DecisionIn, session: ApiSession) -> JSON:
    """Decide on a match (reviewers and admins); the decision is appended to the ledger."""
    return decide(
        ctx_of(request).ws,
        session.user,
        match_id=match_id,
        decision=body.decision,
        reason=body.reason,
        comment=body.comment,
    ).to_json()


@router.get("/cases")
def api_cases(request: Request, session: CurrentSession) -> list[JSON]:
    return [c.to_json() for c in list_cases(ctx_of(request).ws)]


@router.post("/cases", status_code=201)
def api_create_case(request: Request, body: CaseIn, session: ApiSession) -> JSON:
    """Open a case with confirmed matches (legal and admins)."""
    ws = ctx_of(request).ws
    return create_case(ws, session.user, title=body.title, match_ids=body.match_ids).to_json()


def _links(case_id: str, ledger_index: int, file_name: str) -> JSON:
    """Where an export's package, ledger statement and receipt are downloaded."""
    receipt = f"/cases/{case_id}/receipts/export-{ledger_index}"
    return {
        "download": f"/cases/{case_id}/exports/{file_name}",
        "statement_download": f"{receipt}.json",
        "receipt_download": f"{receipt}.tlog-proof",
    }


@router.get("/cases/{case_id}")
def api_case(request: Request, case_id: str, session: CurrentSession) -> JSON:
    """A case; each export also has ``download``, ``statement_download`` and
    ``receipt_download`` (URLs of the zip, the export statement and its receipt)."""
    data = get_case(ctx_of(request).ws, case_id).to_json()
    for e in data["exports"]:
        e.update(_links(case_id, e["ledger_index"], e["file_name"]))
    return data


@router.post("/cases/{case_id}/matches")
def api_add_matches(request: Request, case_id: str, body: MatchesIn, session: ApiSession) -> JSON:
    return add_matches(ctx_of(request).ws, session.user, case_id, body.match_ids).to_json()


@router.post("/cases/{case_id}/exports", status_code=201)
def api_export(request: Request, case_id: str, body: ExportIn, session: ApiSession) -> JSON:
    """Export the case package (legal and admins); the ``copyseal export --json`` shape
    plus ``download``, ``statement_download`` and ``receipt_download``: the URLs of the
    zip and of the export's ledger statement and receipt (kept by the workspace)."""
    require(session.user, "export")
    result = export_case(
        ctx_of(request).ws, case_id, exported_by=session.user.name, recipient=body.recipient
    )
    data = result.to_json()
    data.pop("path")
    data.update(_links(case_id, result.ledger_index, result.path.name))
    return data


@router.get("/users")
def api_users(request: Request, session: CurrentSession) -> list[JSON]:
    require(session.user, "users")
    return [u.to_json() for u in list_users(ctx_of(request).ws)]


@router.post("/users", status_code=201)
def api_add_user(request: Request, body: UserIn, session: ApiSession) -> JSON:
    require(session.user, "users")
    ws = ctx_of(request).ws
    return add_user(ws, name=body.name, role=body.role, password=body.password).to_json()


@router.patch("/users/{name}")
def api_update_user(request: Request, name: str, body: UserPatch, session: ApiSession) -> JSON:
    """Change a role or disable/enable an account (admins). The rules of the web form
    apply: no admin demotes or disables themselves, and the last admin stays one."""
    require(session.user, "users")
    ws = ctx_of(request).ws
    return update_user(ws, name, role=body.role, disabled=body.disabled, by=session.user).to_json()


def install_openapi(app: FastAPI, document: Callable[[], dict[str, Any]]) -> None:
    """Serve the OpenAPI document at ``/api/openapi.json`` (to logged-in users)."""

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi(session: CurrentSession) -> JSON:
        return document()
