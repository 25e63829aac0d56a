"""Sessions, CSRF and response headers of the review app.

- The session cookie holds a random token signed with a secret kept in the workspace
  (``keys/web.secret``, mode 0600, never logged); it is HttpOnly, SameSite=Strict, and
  Secure when the app is served over HTTPS. Only the token's SHA-256 is in the database.
- Every form carries the session's CSRF token (the login form a signed pre-session one);
  the JSON API takes it in the ``X-CSRF-Token`` header.
- Every response forbids framing and inline scripts (Content-Security-Policy).
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path
from typing import Final

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import Response

from copyseal.review.errors import AuthError
from copyseal.review.users import SessionInfo, load_session
from copyseal.workspace import Workspace

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LOGIN_COOKIE",
    "SECURITY_HEADERS",
    "SESSION_COOKIE",
    "CsrfError",
    "LoginRequired",
    "Signer",
    "check_csrf",
    "load_secret",
    "session_of",
    "set_cookie",
]

SESSION_COOKIE: Final = "copyseal_session"
LOGIN_COOKIE: Final = "copyseal_login"
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class LoginRequired(Exception):
    """No valid session: pages redirect to the login, the API answers 401."""


class CsrfError(Exception):
    """A state-changing request without the right CSRF token (answered with 403)."""


def load_secret(ws: Workspace) -> bytes:
    """The app's cookie-signing secret, created (mode 0600) beside the signing key."""
    path: Path = ws.settings.workspace.signing_key.parent / "web.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first
        else:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_hex(32) + "\n")
    secret = path.read_text(encoding="ascii").strip()
    if len(secret) < 32:
        raise AuthError(f"{path}: the web secret is too short")
    return secret.encode("ascii")


class Signer:
    """Signs and opens the session and login cookies."""

    def __init__(self, *, secret: bytes) -> None:
        self._session = URLSafeSerializer(secret, salt="copyseal-session")
        self._login = URLSafeSerializer(secret, salt="copyseal-login")

    def session_cookie(self, token: str) -> str:
        return str(self._session.dumps(token))

    def session_token(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            token = self._session.loads(cookie)
        except BadSignature:
            return None
        return token if isinstance(token, str) else None

    def login_cookie(self, nonce: str) -> str:
        return str(self._login.dumps(nonce))

    def login_nonce(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            nonce = self._login.loads(cookie)
        except BadSignature:
            return None
        return nonce if isinstance(nonce, str) else None


def session_of(ws: Workspace, signer: Signer, request: Request) -> SessionInfo:
    """The request's live session.

    Raises:
        LoginRequired: no cookie, a forged one, or an expired or revoked session.
    """
    token = signer.session_token(request.cookies.get(SESSION_COOKIE))
    if token is None:
        raise LoginRequired()
    try:
        return load_session(ws, token)
    except AuthError as e:
        raise LoginRequired() from e


def check_csrf(expected: str, given: str | None) -> None:
    """Raise :class:`CsrfError` unless ``given`` is the expected token."""
    if not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise CsrfError("missing or wrong CSRF token; reload the page and try again")


def set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    """Set a cookie with the app's flags: HttpOnly, SameSite=Strict, Secure over HTTPS."""
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
