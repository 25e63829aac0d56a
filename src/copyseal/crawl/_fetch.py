"""Fetching images once per crawl: limits, content sniffing, deduplication by URL.

The format is sniffed from the bytes (never from the extension or ``Content-Type``); what
is not an image is a recorded skip, never an error that stops the crawl. A URL is fetched
once: pages that show it while it is being fetched wait for the same download, and pages
after that get its summary (hash and status) without the bytes, because the match
pipeline has its outcome by then (:meth:`ImageFetcher.processed` is called once the
first item carrying the bytes is stored).
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

from copyseal.match.decode import sniff

__all__ = ["ERROR_STATUSES", "Fetched", "ImageFetcher", "describe_non_image"]

#: Statuses handed to callbacks rather than filtered (redirects are still followed).
ERROR_STATUSES = list(range(400, 600))


@dataclass(frozen=True, kw_only=True)
class Fetched:
    """An image URL's fate: bytes and their facts, or why it was skipped."""

    url: str
    status: str  # "ok" or "skipped"
    reason: str | None = None
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
            url=url, status="skipped", reason=describe_non_image(data), sha256=sha, size=len(data)
        )
    return Fetched(url=url, status="ok", sha256=sha, size=len(data), format=fmt, data=data)


class ImageFetcher:
    """Downloads images through Scrapy's downloader (middlewares included: robots.txt,
    address safety, User-Agent, AutoThrottle slots), once per URL.

    Args:
        download: ``engine.download_async``.
        max_bytes: Larger bodies are cancelled (``download_maxsize``) and skipped.
        timeout: Per-image download timeout in seconds.
        known: ``url -> (sha256, status, reason)`` already processed (after a resume).
    """

    def __init__(
        self,
        *,
        download: Callable[[Request], Awaitable[Any]],
        max_bytes: int,
        timeout: float,
        known: dict[str, tuple[str | None, str, str | None]] | None = None,
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

    async def get(self, url: str) -> Fetched:
        """The image at ``url`` (bytes only if not processed yet)."""
        if url in self._done:
            return self._done[url]
        if url in self._inflight:
            return await asyncio.shield(self._inflight[url])
        future: asyncio.Future[Fetched] = asyncio.get_running_loop().create_future()
        self._inflight[url] = future
        try:
            result = await self._fetch(url)
        except Exception as e:  # a failed image never stops the crawl
            result = Fetched(url=url, status="skipped", reason=f"fetch failed: {e}")
        if result.data is None:  # nothing for the matcher: no need to wait for it
            self._inflight.pop(url, None)
            self._done[url] = result
        future.set_result(result)
        return result

    def processed(self, url: str) -> None:
        """The item with ``url``'s bytes is stored: later pages need only the summary."""
        future = self._inflight.pop(url, None)
        if future is not None and future.done():
            self._done[url] = replace(future.result(), data=None)

    async def _fetch(self, url: str) -> Fetched:
        if url.startswith("data:"):
            try:
                parsed = parse_data_uri(url)
            except ValueError as e:
                return Fetched(url=url[:64], status="skipped", reason=f"bad data: URI ({e})")
            if len(parsed.data) > self.max_bytes:
                return Fetched(url=url[:64], status="skipped", reason="data: URI too large")
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
            return Fetched(url=url, status="skipped", reason=str(e) or "ignored (robots.txt)")
        except Exception as e:
            text = str(e) or e.__class__.__name__
            if "larger than" in text or "maxsize" in text.lower():
                text = f"larger than {self.max_bytes} bytes"
            return Fetched(url=url, status="skipped", reason=f"fetch failed: {text}")
        if response.status != 200:
            return Fetched(url=url, status="skipped", reason=f"HTTP {response.status}")
        self.fetched += 1
        return _checked(url, bytes(response.body))
