"""The error of the loopback services (see :mod:`copyseal.loopback`)."""

from __future__ import annotations

from copyseal.errors import CopysealError

__all__ = ["LoopbackError"]


class LoopbackError(CopysealError):
    """A loopback service is not installed, did not start or is not running."""
