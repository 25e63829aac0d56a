"""The review web app: ``create_app(workspace)`` gives a FastAPI application.

Server-rendered pages (Jinja2, a little plain JavaScript for keyboard shortcuts) and a
JSON API under ``/api`` (its OpenAPI document at ``/api/openapi.json``) call the same
library functions of :mod:`copyseal.review` and :mod:`copyseal.export`. Every page but
the login needs a session: pages redirect to ``/login``, the API answers 401.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from copyseal import __version__
from copyseal.errors import CopysealError
from copyseal.export import ExportError
from copyseal.review.errors import AuthError, NotFound, PermissionDenied, Throttled
from copyseal.web import _api, _pages, _pages_cases, _pages_licences, _targets
from copyseal.web._context import Ctx, make_templates
from copyseal.web._security import SECURITY_HEADERS, CsrfError, LoginRequired, Signer, load_secret
from copyseal.workspace import Workspace

__all__ = ["create_app"]

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
        return _error(request, status, str(exc))

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


def create_app(ws: Workspace, *, verify_ttl: float = 30.0) -> FastAPI:
    """The review app over ``ws`` (opens the database and creates the web secret)."""
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

    _install_handlers(app)
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    app.include_router(_api.router)
    app.include_router(_pages.router)
    app.include_router(_pages_cases.router)
    app.include_router(_pages_licences.router)
    app.include_router(_targets.api_router)
    app.include_router(_targets.router)

    def openapi_document() -> dict[str, Any]:
        return app.openapi()

    _api.install_openapi(app, openapi_document)
    return app
