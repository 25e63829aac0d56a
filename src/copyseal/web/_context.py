"""What every route needs: the workspace, the cookie signer, templates, and the
dependencies that resolve the session, check a permission and check the CSRF token."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from copyseal import __version__
from copyseal.review import dashboard as dashboard_module
from copyseal.review.users import SessionInfo, require
from copyseal.web._security import CSRF_FIELD, CSRF_HEADER, Signer, check_csrf, session_of
from copyseal.workspace import Workspace

__all__ = [
    "ApiSession",
    "Ctx",
    "CurrentSession",
    "FormSession",
    "ctx_of",
    "render",
    "session_dep",
]

_HERE = Path(__file__).parent


@dataclass(kw_only=True)
class Ctx:
    """The app's shared state (one per app)."""

    ws: Workspace
    signer: Signer
    templates: Jinja2Templates
    #: Dashboard bundle states, re-verified at most every ``verify_ttl`` seconds.
    verify_ttl: float = 30.0
    _bundles: tuple[float, list[dashboard_module.BundleState]] | None = field(default=None)

    def bundle_states(self) -> list[dashboard_module.BundleState]:
        if self._bundles is None or time.monotonic() - self._bundles[0] > self.verify_ttl:
            self._bundles = (time.monotonic(), dashboard_module.bundle_states(self.ws))
        return self._bundles[1]


def make_templates() -> Jinja2Templates:
    """Jinja2 with autoescaping on for every template (HTML and SVG alike)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_HERE / "templates")),
        autoescape=True,
    )
    env.globals["version"] = __version__
    return Jinja2Templates(env=env)


def ctx_of(request: Request) -> Ctx:
    ctx = request.app.state.ctx
    assert isinstance(ctx, Ctx)
    return ctx


def session_dep(request: Request) -> SessionInfo:
    """The live session (else :class:`LoginRequired`, handled by the app)."""
    ctx = ctx_of(request)
    return session_of(ctx.ws, ctx.signer, request)


CurrentSession = Annotated[SessionInfo, Depends(session_dep)]


def permission(action: str) -> Any:
    """A dependency: the session, whose user must be allowed ``action``."""

    def dep(session: CurrentSession) -> SessionInfo:
        require(session.user, action)
        return session

    return Depends(dep)


def api_csrf(request: Request, session: CurrentSession) -> SessionInfo:
    """A dependency for state-changing API calls: the ``X-CSRF-Token`` header must match."""
    check_csrf(session.csrf_token, request.headers.get(CSRF_HEADER))
    return session


async def form_csrf(request: Request, session: CurrentSession) -> SessionInfo:
    """A dependency for state-changing forms: the ``csrf_token`` field must match."""
    form = await request.form()
    value = form.get(CSRF_FIELD)
    check_csrf(session.csrf_token, value if isinstance(value, str) else None)
    return session


FormSession = Annotated[SessionInfo, Depends(form_csrf)]
ApiSession = Annotated[SessionInfo, Depends(api_csrf)]


def render(
    request: Request,
    name: str,
    session: SessionInfo | None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """Render a page; every page gets the user and the CSRF token for its forms."""
    ctx = ctx_of(request)
    return ctx.templates.TemplateResponse(
        request,
        name,
        {
            "user": session.user if session else None,
            "csrf_token": session.csrf_token if session else "",
            "flash": request.query_params.get("flash", ""),
            **context,
        },
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )
