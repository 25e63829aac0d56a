"""A live progress line on stderr while a crawl runs (setting ``COPYSEAL_PROGRESS``)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Any

from scrapy import signals

from copyseal.crawl._context import CrawlContext

__all__ = ["ProgressExtension"]


class ProgressExtension:
    """Every ``interval`` seconds: pages done/queued, images, matches (from the DB).

    On a terminal the line is rewritten in place; otherwise one line is printed per tick.
    """

    def __init__(self, crawler: Any, *, interval: float = 2.0) -> None:
        self.crawler = crawler
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._start = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler: Any) -> ProgressExtension:
        ext = cls(crawler)
        if crawler.settings.getbool("COPYSEAL_PROGRESS"):
            crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
            crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def line(self) -> str:
        ctx = CrawlContext.of(self.crawler)
        counts = ctx.store.counts(ctx.job_id)
        pages = counts["pages"]
        done = sum(n for s, n in pages.items() if s != "queued")
        images = sum(counts["images"].values())
        elapsed = time.monotonic() - self._start
        return (
            f"crawl {ctx.job_id}: pages {done} done, {pages.get('queued', 0)} queued;"
            f" images {images}; matches {counts['matches']['total']}; {elapsed:.0f}s"
        )

    async def _run(self) -> None:
        tty = sys.stderr.isatty()
        while True:
            await asyncio.sleep(self.interval)
            text = self.line()
            sys.stderr.write(f"\r{text}\x1b[K" if tty else text + "\n")
            sys.stderr.flush()

    def spider_opened(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def spider_closed(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            if sys.stderr.isatty():
                sys.stderr.write("\n")
