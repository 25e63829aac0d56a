"""Fetching images once per crawl: limits, content sniffing, deduplication by URL.

The format is sniffed from the bytes (never from the extension or ``Content-Type``); what
is not an image is a recorded skip, never an error that stops the crawl. A URL is fetched
once: pages that show it while it is being fetched wait for the same download, and pages
after that get its summary (hash and status) without the bytes, because the match
pipeline has its outcome by then (:meth:`ImageFetcher.processed` is called once the
first item carrying the bytes is stored).

Fetching waits while ``max_pending`` images hold bytes not stored yet, and
:class:`BacklogMiddleware` holds page requests back meanwhile: when matching is slower
than downloading, the crawl slows to the matcher's pace instead of keeping every fetched
image and page in memory (a backlog that grew with the crawl). Both waits are bounded
(``slot_timeout``), so a lost item can slow the crawl but never stop it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from w3lib.url import parse_data_uri

from copyseal.crawl.reasons import reason_for_error, reason_for_status
from copyseal.match.decode import sniff

__all__ = ["ERROR_STATUSES", "BacklogMiddleware", "Fetched", "ImageFetcher", "describe_non_image"]

#: Statuses handed to callbacks rather than filtered (redirects are still followed).
ERROR_STATUSES = list(range(400, 600))
#: Images whose bytes may wait for the matcher at once (the rest wait to be fetched).
MAX_PENDING_IMAGES = 64
#: Longest wait for room in that backlog before fetching anyway (seconds).
SLOT_TIMEOUT = 600.0


@dataclass(frozen=True, kw_only=True)
class Fetched:
    """An image URL's fate: bytes and their facts, or why it was skipped (``code``: a
    reason code of :mod:`copyseal.crawl.reasons`; ``reason``: the detail)."""

    url: str
    status: str  # "ok" or "skipped"
    reason: str | None = None
    code: str | None = None
    sha256: str | None = None
    size: int | None = None
    format: str | None = None
    data: bytes | None = field(default=None, repr=False)


def describe_non_image(data: bytes) -> str:
    """A short description of bytes that are not a known image format."""
    head = data[:512].lstrip().lower()
    if not data:
        return "empty body"
    if head.startswith((b"<!doctype html", b"<html")) or b"<body" in head:
        return "not an image (HTML)"
    if head.startswith((b"{", b"[")):
        return "not an image (JSON)"
    if head.startswith(b"%pdf"):
        return "not an image (PDF)"
    return f"not an image (unknown format, starts {data[:8].hex()})"


def _checked(url: str, data: bytes) -> Fetched:
    fmt = sniff(data)
    sha = hashlib.sha256(data).hexdigest()
    if fmt is None:
        return Fetched(
            url=url,
            status="skipped",
            reason=describe_non_image(data),
            code="not-an-image",
            sha256=sha,
            size=len(data),
        )
    return Fetched(url=url, status="ok", sha256=sha, size=len(data), format=fmt, data=data)


class ImageFetcher:
    """Downloads images through Scrapy's downloader (middlewares included: robots.txt,
    address safety, User-Agent, AutoThrottle slots), once per URL.

    Args:
        download: ``engine.download_async``.
        max_bytes: Larger bodies are cancelled (``download_maxsize``) and skipped.
        timeout: Per-image download timeout in seconds.
        known: ``url -> (sha256, status, reason)`` already processed (after a resume;
            their rows, reason codes included, are stored already).
        max_pending: At most this many fetched images hold bytes not yet
            :meth:`processed`; further fetches wait (at most ``slot_timeout``) for one.
        slot_timeout: Longest wait for such a slot before fetching anyway.
    """

    def __init__(
        self,
        *,
        download: Callable[[Request], Awaitable[Any]],
        max_bytes: int,
        timeout: float,
        known: dict[str, tuple[str | None, str, str | None]] | None = None,
        max_pending: int = MAX_PENDING_IMAGES,
        slot_timeout: float = SLOT_TIMEOUT,
    ) -> None:
        self._download = download
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._done: dict[str, Fetched] = {
            url: Fetched(url=url, sha256=sha, status=status, reason=reason)
            for url, (sha, status, reason) in (known or {}).items()
        }
        self._inflight: dict[str, asyncio.Future[Fetched]] = {}
        self.fetched = 0
        self.max_pending = max_pending
        self.slot_timeout = slot_timeout
        self._slots: asyncio.Semaphore | None = None  # made on the crawl's loop
        self._holding: set[str] = set()  # URLs holding a slot until processed

    def full(self) -> bool:
        """True while ``max_pending`` fetched images wait to be processed."""
        return self._slots is not None and self._slots.locked()

    async def wait_for_room(self, *, poll: float = 0.05) -> None:
        """Return once the backlog has room (or after ``slot_timeout``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.slot_timeout
        while self.full() and loop.time() < deadline:
            await asyncio.sleep(poll)

    async def _slot(self, url: str) -> None:
        """Take a pending-bytes slot for ``url`` (given up after ``slot_timeout``)."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_pending)
        if self._slots.locked():
            try:
                await asyncio.wait_for(self._slots.acquire(), self.slot_timeout)
            except TimeoutError:
                return
        else:
            await self._slots.acquire()
        self._holding.add(url)

    def _release(self, url: str) -> None:
        if url in self._holding:
            self._holding.discard(url)
            assert self._slots is not None
            self._slots.release()

    async def get(self, url: str) -> Fetched:
        """The image at ``url`` (bytes only if not processed yet)."""
        if url in self._done:
            return self._done[url]
        if url in self._inflight:
            return await asyncio.shield(self._inflight[url])
        future: asyncio.Future[Fetched] = asyncio.get_running_loop().create_future()
        self._inflight[url] = future
        try:
            await self._slot(url)
            result = await self._fetch(url)
        except Exception as e:  # a failed image never stops the crawl
            result = Fetched(
                url=url, status="skipped", reason=f"fetch failed: {e}", code=reason_for_error(e)
            )
        except BaseException:  # cancelled (the crawl is stopping): give the slot back
            self._release(url)
            raise
        if result.data is None:  # nothing for the matcher: no need to wait for it
            self._inflight.pop(url, None)
            self._done[url] = result
            self._release(url)
        future.set_result(result)
        return result

    def processed(self, url: str) -> None:
        """The item with ``url``'s bytes is stored: later pages need only the summary."""
        future = self._inflight.pop(url, None)
        self._release(url)
        if future is not None and future.done():
            self._done[url] = replace(future.result(), data=None)

    async def _fetch(self, url: str) -> Fetched:
        if url.startswith("data:"):
            try:
                parsed = parse_data_uri(url)
            except ValueError as e:
                return Fetched(
                    url=url[:64],
                    status="skipped",
                    reason=f"bad data: URI ({e})",
                    code="bad-data-uri",
                )
            if len(parsed.data) > self.max_bytes:
                return Fetched(
                    url=url[:64], status="skipped", reason="data: URI too large", code="too-large"
                )
            self.fetched += 1
            result = _checked(url, parsed.data)
            return replace(result, url=f"data:{parsed.media_type};sha256={result.sha256}")
        request = Request(
            url,
            dont_filter=True,
            headers={"Accept": "image/avif,image/webp,image/*,*/*;q=0.8"},
            meta={
                "download_maxsize": self.max_bytes,
                "download_warnsize": 0,
                "download_timeout": self.timeout,
                "handle_httpstatus_list": ERROR_STATUSES,
                "copyseal_image": True,
            },
        )
        try:
            response = await self._download(request)
        except IgnoreRequest as e:
            return Fetched(
                url=url,
                status="skipped",
                reason=str(e) or "ignored (robots.txt)",
                code=reason_for_error(e),
            )
        except Exception as e:
            text = str(e) or e.__class__.__name__
            code = reason_for_error(e)
            if "larger than" in text or "maxsize" in text.lower():
                text, code = f"larger than {self.max_bytes} bytes", "too-large"
            return Fetched(url=url, status="skipped", reason=f"fetch failed: {text}", code=code)
        if response.status != 200:
            return Fetched(
                url=url,
                status="skipped",
                reason=f"HTTP {response.status}",
                code=reason_for_status(response.status),
            )
        self.fetched += 1
        return _checked(url, bytes(response.body))


class BacklogMiddleware:
    """Downloader middleware: a page request waits while the crawl's image backlog is full
    (:meth:`ImageFetcher.wait_for_room`), so pages are not downloaded faster than their
    images can be matched. Image requests pass at once (they drain the backlog)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> BacklogMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        if "copyseal_url" not in request.meta:  # images, stylesheets, robots.txt
            return
        from copyseal.crawl._context import CrawlContext

        await CrawlContext.of(self.crawler).fetcher.wait_for_room()
