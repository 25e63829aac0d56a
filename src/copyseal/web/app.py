"""The review web app: ``create_app(workspace)`` gives a FastAPI application.

Server-rendered pages (Jinja2, a little plain JavaScript for keyboard shortcuts) and a
JSON API under ``/api`` (its OpenAPI document at ``/api/openapi.json``) call the same
library functions of :mod:`copyseal.review` and :mod:`copyseal.export`. Every page but
the login needs a session: pages redirect to ``/login``, the API answers 401.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from copyseal import __version__
from copyseal.errors import CopysealError
from copyseal.export import ExportError
from copyseal.review.errors import AuthError, NotFound, PermissionDenied, Throttled
from copyseal.web import _api, _pages, _pages_cases, _pages_licences, _targets, _timeline
from copyseal.web._context import Ctx, make_templates
from copyseal.web._security import SECURITY_HEADERS, CsrfError, LoginRequired, Signer, load_secret
from copyseal.workspace import Workspace

__all__ = ["create_app", "server_config"]

_HERE = Path(__file__).parent


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    ctx: Ctx = request.app.state.ctx
    return ctx.templates.TemplateResponse(
        request,
        "error.html",
        {"user": None, "csrf_token": "", "flash": "", "status": status, "message": message},
        status_code=status,
    )


def _install_handlers(app: FastAPI) -> None:
    async def login_required(request: Request, exc: Exception) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": "not logged in"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    async def mapped(request: Request, exc: Exception) -> Response:
        status = 400
        if isinstance(exc, CsrfError | PermissionDenied):
            status = 403
        elif isinstance(exc, NotFound):
            status = 404
        elif isinstance(exc, Throttled):
            status = 429
        elif isinstance(exc, AuthError):
            status = 401
        response = _error(request, status, str(exc))
        if isinstance(exc, Throttled):
            response.headers["Retry-After"] = str(math.ceil(exc.retry_after))
        return response

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return _error(request, exc.status_code, str(exc.detail))

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        return _error(request, 422, f"invalid request: {problems}")

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(CsrfError, mapped)
    app.add_exception_handler(CopysealError, mapped)
    app.add_exception_handler(ExportError, mapped)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)


def create_app(
    ws: Workspace, *, verify_ttl: float = 30.0, forwarded_allow_ips: Sequence[str] | None = None
) -> FastAPI:
    """The review app over ``ws`` (opens the database and creates the web secret).

    ``forwarded_allow_ips`` (default: ``web.forwarded_allow_ips``): the proxies whose
    ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed, through uvicorn's
    ``ProxyHeadersMiddleware`` (addresses, CIDR networks or ``*``). Empty: the headers
    are ignored, so a client cannot claim another address (login throttling and the
    login audit trail use the client's address). Serve the app with uvicorn's own
    ``proxy_headers=False`` (:func:`server_config`), which would trust 127.0.0.1.
    """
    ws.engine  # noqa: B018  (migrate and connect once, before requests arrive)
    ws.ledger()
    app = FastAPI(
        title="copyseal review",
        version=__version__,
        description="Review queue, decisions, cases and exports of a copyseal workspace."
        " Log in with POST /api/login; send the returned csrf_token in the X-CSRF-Token"
        " header of every POST, PUT, PATCH and DELETE.",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = Ctx(
        ws=ws,
        signer=Signer(secret=load_secret(ws)),
        templates=make_templates(),
        verify_ttl=verify_ttl,
    )

    @app.middleware("http")
    async def headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    trusted = (
        ws.settings.web.forwarded_allow_ips if forwarded_allow_ips is None else forwarded_allow_ips
    )
    if trusted:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(trusted))
    _install_handlers(app)
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    app.include_router(_api.router)
    app.include_router(_pages.router)
    app.include_router(_pages_cases.router)
    app.include_router(_pages_licences.router)
    app.include_router(_timeline.router)
    app.include_router(_targets.api_router)
    app.include_router(_targets.router)

    def openapi_document() -> dict[str, Any]:
        return app.openapi()

    _api.install_openapi(app, openapi_document)
    return app


def server_config(app: FastAPI, *, host: str, port: int) -> uvicorn.Config:
    """How ``copyseal serve`` runs the app: quiet, and without uvicorn's own proxy
    headers handling (it trusts ``X-Forwarded-For`` from 127.0.0.1 by default; the app
    handles the headers itself, only from configured proxies: :func:`create_app`)."""
    return uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, proxy_headers=False
    )
