"""Render mode: browser contexts used for a bounded number of pages, then closed.

A browser context keeps what its pages leave behind (an in-memory HTTP cache, cookies,
storage). With ``crawl.render_pages_per_context`` N > 0, every N pages the crawl opens
pages in a fresh context, and a retired context is closed when its last page closes,
which frees what it held in Chromium. Off by default: over 1,000 rendered pages of a
local site one context's process tree stayed flat (1.84 -> 1.94 GB peak summed RSS),
and rotation every 100 pages raised the peak (2.54 -> 2.60 GB; each context brings its
own renderer processes) (``benchmarks/render.py``, 2 busy cores). It is there for
crawls long enough for a context's state to matter, and for sites that pile up state.

The context is chosen when a request enters the downloader (:class:`ContextMiddleware`,
after the retry middleware), not when it is queued: at most ``CONCURRENT_REQUESTS``
requests are in the downloader, so a retired context's last pages are already there when
its successor opens, and it closes soon after. Every context is made on demand with
:data:`CONTEXT_KWARGS` (no start-up context: scrapy-playwright creates those in the
background, and a first request racing it made a second, never-closed ``default``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = ["CONTEXT_KWARGS", "EVERY_SETTING", "ContextMiddleware", "ContextRotation"]

log = logging.getLogger(__name__)

#: Options of every render context: service workers could fetch outside the page's
#: request events (and so outside the address policy's checks).
CONTEXT_KWARGS: dict[str, Any] = {"service_workers": "block"}
#: The Scrapy setting holding ``crawl.render_pages_per_context`` (0: one context).
EVERY_SETTING = "COPYSEAL_RENDER_PAGES_PER_CONTEXT"
_TAG = "copyseal_context"
#: The first context's name (scrapy-playwright's default one).
_FIRST = "default"


class ContextRotation:
    """Names the context of each rendered page, and closes retired contexts."""

    def __init__(self, *, every: int, stats: Any = None) -> None:
        self.every = every
        self.stats = stats
        self.generation = 0
        self.used = 0
        self.open: dict[str, int] = {}
        self.contexts: dict[str, Any] = {}
        self.closed = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def of(cls, crawler: Any) -> ContextRotation:
        """The crawl's one rotation (made on first use from the crawler's settings)."""
        found = getattr(crawler, "copyseal_contexts", None)
        if found is None:
            found = cls(every=crawler.settings.getint(EVERY_SETTING, 0), stats=crawler.stats)
            crawler.copyseal_contexts = found
        return found

    @property
    def current(self) -> str:
        return _FIRST if self.generation == 0 else f"render-{self.generation}"

    def assign(self, meta: dict[str, Any]) -> None:
        """Put a rendered request in the current context (a new one every ``every``)."""
        meta["playwright_context_kwargs"] = dict(CONTEXT_KWARGS)
        if self.every <= 0:
            meta["playwright_context"] = _FIRST
            return
        earlier = meta.pop(_TAG, None)
        if earlier is not None:  # a retry: the first attempt's page is gone
            self._done(earlier)
        if self.used >= self.every:
            retired = self.current
            self.generation += 1
            self.used = 0
            if self.open.get(retired, 0) <= 0:
                self._close(retired)
        name = self.current
        self.used += 1
        self.open[name] = self.open.get(name, 0) + 1
        meta[_TAG] = name
        meta["playwright_context"] = name

    async def release(self, meta: dict[str, Any], page: Any) -> None:
        """Close a rendered request's page (if any), and its context if that is retired
        and this was its last page."""
        name = meta.pop(_TAG, None)
        if page is not None:
            if name is not None:
                self.contexts.setdefault(name, page.context)
            await page.close()
        if name is not None:
            self._done(name)

    def _done(self, name: str) -> None:
        self.open[name] = self.open.get(name, 0) - 1
        if name != self.current and self.open[name] <= 0:
            self._close(name)

    def _close(self, name: str) -> None:
        self.open.pop(name, None)
        context = self.contexts.pop(name, None)
        if context is None:
            return
        self.closed += 1
        if self.stats is not None:
            self.stats.inc_value("copyseal/render_contexts_closed")
        task = asyncio.ensure_future(self._close_quietly(name, context))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _close_quietly(name: str, context: Any) -> None:
        try:
            await context.close()
        except Exception as e:  # the browser went away: nothing left to free
            log.debug("closing render context %s: %s", name, e)


class ContextMiddleware:
    """Downloader middleware: tags each rendered request with its context."""

    def __init__(self, rotation: ContextRotation) -> None:
        self.rotation = rotation

    @classmethod
    def from_crawler(cls, crawler: Any) -> ContextMiddleware:
        return cls(ContextRotation.of(crawler))

    def process_request(self, request: Any, spider: Any = None) -> None:
        if request.meta.get("playwright"):
            self.rotation.assign(request.meta)
