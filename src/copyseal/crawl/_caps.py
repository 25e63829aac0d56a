"""Caps on image fetches, so a page cannot aim the crawler at a third party.

A page decides which images copyseal fetches: a hostile one with 300 ``<img>`` pointing
at someone else's host made 300 requests to it. Two caps bound that:

- ``crawl.max_images_per_page``: distinct image URLs fetched for one page, any host
  (``data:`` URIs cost no request and are not counted);
- ``crawl.max_images_per_host``: distinct image URLs fetched from one *foreign* host in
  the crawl (a host that is neither the page's own nor in the job's allowed domains),
  so many pages together cannot either.

An image over a cap is not fetched; it is recorded as a skipped image with reason code
``max-images-page`` or ``max-images-host`` (:mod:`copyseal.crawl.reasons`, with the
setting to raise as the remedy), so ``copyseal crawl --json`` and the summary show that
a cap was hit. Counts live in the crawl process: a resumed crawl, and each worker of a
distributed one, counts afresh.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from copyseal.crawl._extract import ImageRef

__all__ = ["Capped", "ImageCaps"]


_NUMERIC_V4 = re.compile(r"[0-9a-fx.]+")


def _host(url: str) -> str:
    """The host a connection to ``url`` reaches, in one spelling: what the fetch resolves
    the same (trailing dot, case and full-width letters folded by IDNA's nameprep,
    RFC 3490; IPv4 in the octal, hex and short forms ``inet_aton`` and Chromium accept;
    IPv6 compressed) counts as one host, so no spelling escapes the per-host cap."""
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return ""
    try:
        ip = ipaddress.ip_address(host)
        return str(ip.ipv4_mapped or ip) if isinstance(ip, ipaddress.IPv6Address) else str(ip)
    except ValueError:
        pass
    if _NUMERIC_V4.fullmatch(host):
        with contextlib.suppress(OSError):
            return socket.inet_ntoa(socket.inet_aton(host))
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _within(host: str, domains: Sequence[str]) -> bool:
    bare = host.removeprefix("www.")
    return any(bare == d or bare.endswith("." + d) for d in (d.lower() for d in domains))


@dataclass(frozen=True, kw_only=True)
class Capped:
    """An image left unfetched by a cap: the reason code and the detail to record."""

    ref: ImageRef
    code: str
    reason: str


class ImageCaps:
    """The two caps of one crawl (see the module docstring)."""

    def __init__(self, *, per_page: int, per_host: int, allowed_domains: Sequence[str]) -> None:
        self.per_page = per_page
        self.per_host = per_host
        self._domains = tuple(allowed_domains)
        self._by_host: dict[str, set[str]] = {}

    def foreign(self, page_url: str, image_url: str) -> bool:
        """The image's host is neither the page's nor one of the job's domains."""
        host = _host(image_url)
        return host != _host(page_url) and not _within(host, self._domains)

    def admit(self, page_url: str, refs: Sequence[ImageRef]) -> tuple[list[ImageRef], list[Capped]]:
        """The refs to fetch for ``page_url`` (in order), and the ones a cap leaves out."""
        keep: list[ImageRef] = []
        capped: list[Capped] = []
        counted = 0
        for ref in refs:
            if ref.url.startswith("data:"):
                keep.append(ref)
                continue
            if counted >= self.per_page:
                capped.append(
                    Capped(
                        ref=ref,
                        code="max-images-page",
                        reason=f"the page shows more than {self.per_page} images"
                        " (crawl.max_images_per_page)",
                    )
                )
                continue
            if self.foreign(page_url, ref.url):
                host = _host(ref.url)
                seen = self._by_host.setdefault(host, set())
                if ref.url not in seen and len(seen) >= self.per_host:
                    capped.append(
                        Capped(
                            ref=ref,
                            code="max-images-host",
                            reason=f"more than {self.per_host} images fetched from {host}"
                            " in this crawl (crawl.max_images_per_host)",
                        )
                    )
                    continue
                seen.add(ref.url)
            counted += 1
            keep.append(ref)
        return keep, capped
