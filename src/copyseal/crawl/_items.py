"""The items spiders yield: one per image shown on a page, and one per page when done."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from copyseal.crawl._extract import ImageRef

__all__ = ["ImageItem", "PageItem"]


@dataclass(frozen=True, kw_only=True)
class ImageItem:
    """An image a page shows, fetched (or known from earlier in the crawl).

    ``data`` is set only for the first page that fetched these bytes; ``outcome`` is
    filled in by the match pipeline (a list of ``Match.to_json()``). A skipped image has
    a ``reason`` (the detail) and a ``reason_code`` (:mod:`copyseal.crawl.reasons`).
    """

    page_url: str
    ref: ImageRef
    url: str
    status: str  # "ok" or "skipped"
    reason: str | None = None
    reason_code: str | None = None
    sha256: str | None = None
    size: int | None = None
    format: str | None = None
    data: bytes | None = field(default=None, repr=False)
    outcome: list[dict[str, Any]] | None = None


@dataclass(frozen=True, kw_only=True)
class PageItem:
    """A page is finished: its status and how many image items it yielded before this.

    A page that is not done (or done with a caveat) has a ``reason`` (the detail) and a
    ``reason_code`` (:mod:`copyseal.crawl.reasons`).
    """

    url: str
    status: str  # "done", "blocked", "not-found", "error", "skipped"
    http_status: int | None = None
    reason: str | None = None
    reason_code: str | None = None
    final_url: str | None = None
    images: int = 0
