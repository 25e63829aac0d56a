"""Errors of the review stage (all :class:`~copyseal.errors.CopysealError`)."""

from __future__ import annotations

from copyseal.errors import ReviewError

__all__ = ["AuthError", "NotFound", "PermissionDenied", "ReviewError", "Throttled"]


class NotFound(ReviewError):
    """No such user, match, case or file."""


class AuthError(ReviewError):
    """Wrong name or password, or a session that is missing, expired or revoked."""


class Throttled(AuthError):
    """Too many failed logins for this name or address; try again later."""


class PermissionDenied(ReviewError):
    """The user's role does not allow this action."""
