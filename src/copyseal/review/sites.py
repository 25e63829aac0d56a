"""Sites: the host of a page URL is the unit the queue filters by and a case is about."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["domain_of"]


def domain_of(url: str) -> str:
    """The host of ``url`` (lower case, without port), the unit a case is usually about."""
    return (urlsplit(url).hostname or "").lower()
