"""Errors of the review stage (all :class:`~copyseal.errors.CopysealError`)."""

from __future__ import annotations

from copyseal.errors import ReviewError

__all__ = ["AuthError", "NotFound", "PermissionDenied", "ReviewError", "Throttled"]


class NotFound(ReviewError):
    """No such user, match, case or file."""


class AuthError(ReviewError):
    """Wrong name or password, or a session that is missing, expired or revoked."""


class Throttled(AuthError):
    """Too many recent failed logins for this name or address; ``retry_after`` says how
    many seconds to wait (the web app sends it as the ``Retry-After`` header)."""

    def __init__(self, message: str, *, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermissionDenied(ReviewError):
    """The user's role does not allow this action."""
