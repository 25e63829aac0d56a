"""The address policy: which URLs copyseal may fetch, and the addresses to connect to.

Every request copyseal makes goes through one :class:`AddressPolicy`: Scrapy's fetches
(a downloader middleware and a resolver, :mod:`copyseal.crawl`), the browsers' requests
(the egress proxy, :mod:`copyseal.netpolicy._proxy`) and the capture's own probes. A host
name is resolved once by the policy, *every* answer is judged
(:func:`~copyseal.netpolicy._ranges.address_refusal`), and the answers are kept for the
policy's life: whoever connects asks :meth:`AddressPolicy.pin` and connects to the address
it returns, so a DNS answer that changes between check and connection (rebinding) changes
nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from copyseal.netpolicy._ranges import IPNetwork, address_refusal, parse_networks

__all__ = ["AddressPolicy", "Pinned", "Refusal", "Resolver", "system_resolver"]

#: ``(host, port) -> addresses``: the name lookup a policy uses (tests inject their own).
Resolver = Callable[[str, int], list[str]]

# Names that are never public, whatever a resolver answers (RFC 6761 §6.3, RFC 6762,
# RFC 8375 home.arpa, ICANN's .internal).
_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa")


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``getaddrinfo`` gives for ``host``, IPv4 first, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found = [str(info[4][0]) for info in infos]
    ordered = sorted(dict.fromkeys(found), key=lambda a: ":" in a)
    return ordered


@dataclass(frozen=True, kw_only=True)
class Refusal:
    """Why a URL or host may not be fetched: a reason code of
    :mod:`copyseal.crawl.reasons` (``private-address``, ``bad-scheme``, ``no-host`` or
    ``dns``) and the detail."""

    code: str
    detail: str


@dataclass(frozen=True, kw_only=True)
class Pinned:
    """A host's checked addresses: connect to one of these, never look the name up again."""

    host: str
    addresses: tuple[str, ...]

    @property
    def address(self) -> str:
        """The address to connect to (IPv4 first)."""
        return self.addresses[0]


@dataclass(kw_only=True)
class AddressPolicy:
    """Which hosts may be fetched; resolutions are pinned for the policy's lifetime.

    Attributes:
        allow_private: Allow every address (``--allow-private``: local test sites).
        allow_networks: Networks allowed although not global (``--allow-network CIDR``,
            ``crawl.allow_networks``).
        resolver: The name lookup (default: the system resolver, run in a thread).
    """

    allow_private: bool = False
    allow_networks: tuple[IPNetwork, ...] = ()
    resolver: Resolver = system_resolver
    _cache: dict[str, Pinned | Refusal] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(
        cls,
        *,
        allow_private: bool = False,
        networks: Iterable[str] = (),
        source: str = "--allow-network",
        resolver: Resolver | None = None,
    ) -> AddressPolicy:
        """A policy from CIDR strings (an invalid one is a ConfigError naming ``source``)."""
        return cls(
            allow_private=allow_private,
            allow_networks=parse_networks(networks, source=source),
            resolver=resolver or system_resolver,
        )

    def __deepcopy__(self, memo: dict[int, Any]) -> AddressPolicy:
        # One policy is shared by everything that checks and connects (its cache is the
        # pin); Scrapy deep-copies its settings, which must not split it in two.
        return self

    def __copy__(self) -> AddressPolicy:
        return self

    def describe(self) -> dict[str, Any]:
        """The policy as recorded with evidence (capture facts) and crawl statistics."""
        return {
            "refuses": "every address that is not global unicast (IANA special-purpose"
            " registries), and IPv6 forms embedding such an IPv4 address",
            "allow_private": self.allow_private,
            "allow_networks": [str(n) for n in self.allow_networks],
        }

    def address_refusal(self, address: str) -> str | None:
        """Why ``address`` may not be connected to, or None."""
        if self.allow_private:
            try:
                ipaddress.ip_address(address.split("%", 1)[0])
            except ValueError:
                return f"{address!r} is not an IP address"
            return None
        return address_refusal(address, networks=self.allow_networks)

    def url_refusal(self, url: str) -> Refusal | None:
        """The part of the check that needs no lookup: scheme and host present."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "ws", "wss"):
            return Refusal(code="bad-scheme", detail=f"scheme {parts.scheme!r} not allowed")
        if not parts.hostname:
            return Refusal(code="no-host", detail="no host")
        return None

    def pin(self, host: str, port: int = 443) -> Pinned | Refusal:
        """Resolve ``host`` once (cached), judge every answer; blocking (call off-loop).

        A name with any refused answer is refused: a resolver that mixes a public and an
        internal answer is treated as hostile, whichever address a client would try.
        """
        host = host.strip("[]").rstrip(".").lower()
        with self._lock:
            known = self._cache.get(host)
        if known is not None:
            return known
        found = self._resolve(host, port)
        with self._lock:
            # The first answer wins: a concurrent second lookup never replaces it.
            return self._cache.setdefault(host, found)

    def pinned(self, host: str) -> Pinned | Refusal | None:
        """The answer :meth:`pin` gave for ``host`` already, or None (never looks up)."""
        with self._lock:
            return self._cache.get(host.strip("[]").rstrip(".").lower())

    async def pin_async(self, host: str, port: int = 443) -> Pinned | Refusal:
        """:meth:`pin` for the event loop (the lookup runs in a worker thread)."""
        known = self.pinned(host)
        if known is not None:
            return known
        return await asyncio.to_thread(self.pin, host, port)

    def _resolve(self, host: str, port: int) -> Pinned | Refusal:
        if not host:
            return Refusal(code="no-host", detail="no host")
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
            addresses = [host]
        except ValueError:
            if not self.allow_private and (host == "localhost" or host.endswith(_PRIVATE_SUFFIXES)):
                return Refusal(code="private-address", detail=f"host {host} is private")
            if host == "invalid" or host.endswith(".invalid"):
                # RFC 6761 §6.4: never resolves; refused without asking a DNS server that
                # might answer anything (a wildcard search domain).
                return Refusal(code="dns", detail=f"cannot resolve {host}: .invalid (RFC 6761)")
            try:
                addresses = list(self.resolver(host, port))
            except (OSError, UnicodeError) as e:
                return Refusal(code="dns", detail=f"cannot resolve {host}: {e}")
            if not addresses:
                return Refusal(code="dns", detail=f"cannot resolve {host}: no address")
        for a in addresses:
            why = self.address_refusal(a)
            if why is not None:
                return Refusal(
                    code="private-address",
                    detail=f"host {host} resolves to non-public address {a} ({why})",
                )
        return Pinned(host=host, addresses=tuple(addresses))

    async def check(self, url: str) -> Refusal | None:
        """Why ``url`` may not be fetched (code and detail), or None if it may.

        ``data:``, ``blob:`` and ``about:`` URLs make no connection and pass.
        """
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return None
        refused = self.url_refusal(url)
        if refused is not None:
            return refused
        found = await self.pin_async(parts.hostname or "", parts.port or 443)
        return found if isinstance(found, Refusal) else None

    async def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be fetched, or None if it may."""
        found = await self.check(url)
        return None if found is None else found.detail

    async def should_abort(self, request: Any) -> bool:
        """``PLAYWRIGHT_ABORT_REQUEST`` predicate: abort the browser's unsafe requests
        before they reach the egress proxy (which refuses them too)."""
        return await self.check(str(request.url)) is not None
