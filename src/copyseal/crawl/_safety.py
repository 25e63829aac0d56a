"""Refusing to fetch private, loopback and link-local addresses (SSRF protection).

A page can point a crawler at ``http://169.254.169.254/`` (cloud metadata) or
``http://127.0.0.1:5432/``; copyseal must not be the tool that fetches them. The rules are
:class:`copyseal.netpolicy.AddressPolicy`'s (global addresses only, unless the job allows
private ones or named networks). A crawl has one policy, in the Scrapy setting
``COPYSEAL_ADDRESS_POLICY``, used at three points:

* :class:`SafetyMiddleware` (a downloader middleware): every page, image and stylesheet
  request and every redirect hop (Scrapy's redirect middleware schedules each hop as a new
  request) is checked before it is downloaded;
* :class:`~copyseal.crawl._resolver.PinnedResolver` (``TWISTED_DNS_RESOLVER``): the
  address Scrapy connects to is the one the policy resolved and checked (no rebinding);
* in render mode, ``PLAYWRIGHT_ABORT_REQUEST`` and the egress proxy the browser goes
  through (:class:`copyseal.netpolicy.EgressProxy`).
"""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import IgnoreRequest

from copyseal.netpolicy import AddressPolicy, Refusal, address_refusal

__all__ = [
    "AddressPolicy",
    "Refusal",
    "RefusedAddress",
    "SafetyMiddleware",
    "address_is_public",
    "crawl_policy",
]

#: The Scrapy setting holding the crawl's :class:`AddressPolicy`.
POLICY_SETTING = "COPYSEAL_ADDRESS_POLICY"


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
    return address_refusal(address) is None


def crawl_policy(crawler: Any) -> AddressPolicy:
    """The crawl's policy (``COPYSEAL_ADDRESS_POLICY``), or one built from
    ``COPYSEAL_ALLOW_PRIVATE`` for a crawler configured without it."""
    policy = crawler.settings.get(POLICY_SETTING)
    if isinstance(policy, AddressPolicy):
        return policy
    return AddressPolicy(allow_private=crawler.settings.getbool("COPYSEAL_ALLOW_PRIVATE"))


class SafetyMiddleware:
    """Downloader middleware: refuse requests to non-public addresses, before the
    download handler connects (the check's answers are the ones the resolver pins)."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy

    @classmethod
    def from_crawler(cls, crawler: Any) -> SafetyMiddleware:
        return cls(crawl_policy(crawler))

    async def process_request(self, request: Any) -> None:
        found = await self.policy.check(request.url)
        if found is not None:
            raise RefusedAddress(f"refused: {found.detail}", code=found.code)
