"""Scrapy's name resolution through the crawl's address policy (pinned answers).

Scrapy's HTTP/1.1 download handler connects with ``reactor.connectTCP(host, ...)``; the
reactor asks the installed ``IResolverSimple`` for the host's address
(``TWISTED_DNS_RESOLVER``). :class:`PinnedResolver` answers with the address that
:meth:`copyseal.netpolicy.AddressPolicy.pin` resolved and checked, the same answer the
:class:`~copyseal.crawl._safety.SafetyMiddleware` judged, so a name whose DNS answer
changes between the check and the connection (DNS rebinding) still reaches only the
checked address, and a refused name fails with a DNS lookup error naming the reason.
IP literals never reach a resolver; the middleware checks them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twisted.internet import defer, threads
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IResolverSimple
from zope.interface import implementer  # type: ignore[import-untyped]

from copyseal.crawl._safety import crawl_policy
from copyseal.netpolicy import AddressPolicy, Refusal

__all__ = ["PinnedResolver"]


@implementer(IResolverSimple)
class PinnedResolver:
    """``IResolverSimple`` answering with the policy's checked IPv4 address."""

    def __init__(self, reactor: Any, policy: AddressPolicy) -> None:
        self.reactor = reactor
        self.policy = policy

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> PinnedResolver:
        return cls(reactor, crawl_policy(crawler))

    def install_on_reactor(self) -> None:
        self.reactor.installResolver(self)

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        # Twisted's HostnameEndpoint (Scrapy's HTTP/1.1 handler) asks for every new
        # connection, IP literals included; the middleware has pinned the host by then,
        # so the answer is given at once rather than from a pool thread (measured: ~500
        # thread round trips in a 300-page crawl, each contending for the GIL).
        known = self.policy.pinned(name)
        if known is not None:
            try:
                return defer.succeed(self._address(known, name))
            except DNSLookupError:
                return defer.fail()
        d: defer.Deferred[Any] = threads.deferToThreadPool(
            self.reactor, self.reactor.getThreadPool(), self.policy.pin, name, 80
        )
        return d.addCallback(self._address, name)

    @staticmethod
    def _address(found: Any, name: str) -> str:
        if isinstance(found, Refusal):
            raise DNSLookupError(f"{name}: refused: {found.detail}")
        # connectTCP is IPv4 (Scrapy's default resolver is IPv4 only, too).
        for address in found.addresses:
            if ":" not in address:
                return str(address)
        raise DNSLookupError(f"{name}: no checked IPv4 address ({', '.join(found.addresses)})")
