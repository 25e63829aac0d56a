"""Refusing to fetch private, loopback and link-local addresses (SSRF protection).

A page can point a crawler at ``http://169.254.169.254/`` (cloud metadata) or
``http://127.0.0.1:5432/``; copyseal must not be the tool that fetches them. Every URL's
host is resolved and *every* address it resolves to must be public (RFC 6890 special-
purpose ranges are refused), unless the target explicitly allows private addresses
(tests, local demo sites).

Two enforcement points use the same :class:`AddressPolicy`: :class:`SafetyMiddleware`
(a Scrapy downloader middleware, before every page and image request) and
:meth:`AddressPolicy.should_abort` (``PLAYWRIGHT_ABORT_REQUEST``: every request the
browser makes while rendering). A DNS answer can change between the check and the
connection (rebinding); the check still stops every plain link to an internal address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest

__all__ = [
    "AddressPolicy",
    "Refusal",
    "RefusedAddress",
    "SafetyMiddleware",
    "address_is_public",
]


@dataclass(frozen=True, kw_only=True)
class Refusal:
    """Why a URL may not be fetched: a reason code of :mod:`copyseal.crawl.reasons`
    (``private-address``, ``bad-scheme``, ``no-host`` or ``dns``) and the detail."""

    code: str
    detail: str


class RefusedAddress(IgnoreRequest):
    """Control-flow signal: the request's host resolves to an address the crawl may not
    fetch. Raised by :class:`SafetyMiddleware`; the page or image is recorded as refused
    and the crawl goes on (an :class:`~scrapy.exceptions.IgnoreRequest`). ``code`` is the
    refusal's reason code."""

    def __init__(self, message: str, *, code: str = "private-address") -> None:
        super().__init__(message)
        self.code = code


def address_is_public(address: str) -> bool:
    """True if ``address`` (IPv4 or IPv6) is a global unicast address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_global) and not ip.is_multicast


@dataclass(kw_only=True)
class AddressPolicy:
    """Which hosts may be fetched; resolutions are cached for the crawl's lifetime.

    Attributes:
        allow_private: Allow every address (the target said so explicitly).
    """

    allow_private: bool = False
    _cache: dict[str, Refusal | None] = field(default_factory=dict, repr=False)

    async def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be fetched, or None if it may."""
        found = await self.check(url)
        return None if found is None else found.detail

    async def check(self, url: str) -> Refusal | None:
        """Why ``url`` may not be fetched (code and detail), or None if it may."""
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return None
        if parts.scheme not in ("http", "https", "ws", "wss"):
            return Refusal(code="bad-scheme", detail=f"scheme {parts.scheme!r} not allowed")
        if self.allow_private:
            return None
        host = (parts.hostname or "").rstrip(".").lower()
        if not host:
            return Refusal(code="no-host", detail="no host")
        if host in self._cache:
            return self._cache[host]
        found = await self._check_host(host, parts.port or 443)
        self._cache[host] = found
        return found

    async def _check_host(self, host: str, port: int) -> Refusal | None:
        try:
            ipaddress.ip_address(host)
            addresses = [host]
        except ValueError:
            if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
                return Refusal(code="private-address", detail=f"host {host} is private")
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
            except (OSError, UnicodeError) as e:
                return Refusal(code="dns", detail=f"cannot resolve {host}: {e}")
            addresses = [str(info[4][0]) for info in infos]
        for a in addresses:
            if not address_is_public(a):
                return Refusal(
                    code="private-address",
                    detail=f"host {host} resolves to non-public address {a}",
                )
        return None

    async def should_abort(self, request: Any) -> bool:
        """``PLAYWRIGHT_ABORT_REQUEST`` predicate: abort the browser's unsafe requests."""
        return await self.check(str(request.url)) is not None


class SafetyMiddleware:
    """Downloader middleware: refuse requests to non-public addresses, before DNS
    resolution by the download handler. Built from the ``COPYSEAL_ALLOW_PRIVATE``
    setting."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy

    @classmethod
    def from_crawler(cls, crawler: Any) -> SafetyMiddleware:
        return cls(AddressPolicy(allow_private=crawler.settings.getbool("COPYSEAL_ALLOW_PRIVATE")))

    async def process_request(self, request: Any) -> None:
        found = await self.policy.check(request.url)
        if found is not None:
            raise RefusedAddress(f"refused: {found.detail}", code=found.code)
