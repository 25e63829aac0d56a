"""Item pipelines: match each image as it arrives, then store images, matches and pages.

Enabled in this order by :func:`copyseal.crawl._settings.scrapy_settings`::

    ITEM_PIPELINES = {
        "copyseal.crawl.MatchPipeline": 300,
        "copyseal.crawl.StorePipeline": 800,
    }

Matching runs in ``match.workers`` processes (:class:`copyseal.registry.pool.MatchPool`,
one per core by default: one process's Python glue capped a crawl at ~30 images/s) and
once per distinct content: items with the same SHA-256 share one outcome. With nothing
fingerprinted, or ``match.workers: 0``, it runs on one thread of the crawl process instead
(exact SHA-256 lookups only need the decode). A page is marked done only after every one
of its image items is stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sized
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any

from scrapy.utils.misc import load_object

from copyseal import times
from copyseal.crawl._context import CrawlContext
from copyseal.crawl._items import ImageItem, PageItem
from copyseal.crawl._matching import ImageMatcher
from copyseal.crawl._records import RecordBatch, image_rows, page_row
from copyseal.crawl._store import url_key
from copyseal.crawl.reasons import reason_for_unusable_image
from copyseal.db.session import unreachable
from copyseal.errors import CopysealError
from copyseal.licences import LicenceIndex, load_index
from copyseal.match.rights import RightsMetadata, compare, read_rights
from copyseal.registry import stored_rights
from copyseal.registry.pool import RETRY_MAX, TIMEOUT, MatchPool, Outcome, default_workers

__all__ = ["MatchPipeline", "StorePipeline"]

log = logging.getLogger(__name__)

#: How long a finished page waits for its images to be stored before it is an error.
PAGE_IMAGES_TIMEOUT = 600.0

#: Matches, or why the bytes could not be matched: (reason code, detail).
_Outcome = Outcome

#: Pages whose rows are written in one transaction (single-process crawls).
_BATCH_PAGES = 32

#: Images submitted to the match pool and not yet answered, per worker: enough to keep
#: every worker busy while the next image crosses the pipe, few enough that the bytes
#: waiting stay small (memory flat whatever the crawl's size).
_IN_FLIGHT_PER_WORKER = 2


class MatchPipeline:
    """Runs the matcher (built by the ``COPYSEAL_MATCHER`` factory) on each new image."""

    def __init__(self, ctx: CrawlContext, factory: Any) -> None:
        self.ctx = ctx
        self.factory = factory
        self.matcher: ImageMatcher | None = None
        self._outcomes: dict[str, asyncio.Future[_Outcome]] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="copyseal-match")
        self.pool: MatchPool | None = None
        self._slots: asyncio.Semaphore | None = None
        self.matched = 0
        #: Each work's rights metadata as read at registration, to compare found copies with.
        self._rights: dict[str, RightsMetadata] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> MatchPipeline:
        return cls(CrawlContext.of(crawler), load_object(crawler.settings["COPYSEAL_MATCHER"]))

    def open_spider(self) -> None:
        settings = self.ctx.settings
        # Built here first also when workers match: it brings the workspace's cached
        # index up to date, so that each worker only reads it.
        self.matcher = self.factory(self.ctx.store.engine, settings)
        self._rights = stored_rights(self.ctx.store.engine)
        workers = default_workers(settings.match.workers)
        # A matcher that can tell it has nothing fingerprinted (``len() == 0``) only
        # looks up exact copies: not worth a process's start.
        empty = isinstance(self.matcher, Sized) and len(self.matcher) == 0
        if workers >= 1 and not empty:
            self.pool = MatchPool(factory=self._factory_ref(), settings=settings, workers=workers)
            self._slots = asyncio.Semaphore(_IN_FLIGHT_PER_WORKER * workers)
            self.matcher = None  # the workers hold it; rebuilt by _match only if asked

    def _factory_ref(self) -> Any:
        """The factory as a worker process can load it: its dotted name."""
        f = self.factory
        module, name = getattr(f, "__module__", None), getattr(f, "__qualname__", "")
        if module and name and "<" not in name:
            return f"{module}.{name}"
        return f

    def close_spider(self) -> None:
        if self.pool is not None:
            self.pool.close()
        self._executor.shutdown(wait=True)

    def _match(self, data: bytes) -> _Outcome:
        """Match ``data`` on this process's thread (no pool, or a caller that asks). The
        matcher reads the database per image (exact copies, fingerprints): while it is
        unreachable, the image is matched again after 1, 2, 4 ... s, as the pool's
        workers do (:mod:`copyseal.registry.pool`), for at most their ``TIMEOUT``."""
        give_up, delay = time.monotonic() + TIMEOUT, 1.0
        while True:
            try:
                if self.matcher is None:
                    self.matcher = self.factory(self.ctx.store.engine, self.ctx.settings)
                assert self.matcher is not None
                matches = [m.to_json() for m in self.matcher.match(data)]
                self._add_rights(matches, data)
                return matches
            except CopysealError as e:
                return reason_for_unusable_image(str(e)), f"unusable image: {e}"
            except Exception as e:  # a matcher bug must not stop the crawl; it is recorded
                if unreachable(e) and time.monotonic() + delay <= give_up:
                    log.warning(
                        "the matcher cannot reach the database (%s); the image is matched "
                        "again in %.0f s",
                        e.__class__.__name__,
                        delay,
                    )
                    time.sleep(delay)
                    delay = min(2 * delay, RETRY_MAX)
                    continue
                log.exception("matcher failed on %d bytes", len(data))
                return "matcher-error", f"matcher failed: {e.__class__.__name__}: {e}"

    def _add_rights(self, matches: list[dict[str, Any]], data: bytes) -> None:
        """Each match's ``rights_metadata``: the found copy's rights fields against the
        work's as registered (None for a work registered before they were read)."""
        if not matches:
            return
        found = read_rights(data)
        for m in matches:
            original = self._rights.get(m["work_id"])
            m["rights_metadata"] = None if original is None else compare(original, found)

    async def _outcome(self, item: ImageItem) -> _Outcome:
        assert item.sha256 is not None
        future = self._outcomes.get(item.sha256)
        if future is None:
            loop = asyncio.get_running_loop()
            future = loop.create_future()
            self._outcomes[item.sha256] = future
            known = self.ctx.known_outcomes.get(item.sha256)
            if known is not None:
                future.set_result(known)
            elif item.data is None:
                future.set_result(("outcome-lost", "bytes no longer available (outcome lost)"))
            else:
                self.matched += 1
                if self.pool is None:
                    outcome = await loop.run_in_executor(self._executor, self._match, item.data)
                else:
                    outcome = await self._pooled(item.data)
                future.set_result(outcome)
        return await asyncio.shield(future)

    async def _pooled(self, data: bytes) -> _Outcome:
        """Match ``data`` in the pool: at most the in-flight bound at a time."""
        assert self.pool is not None and self._slots is not None
        async with self._slots:
            outcome = await asyncio.wrap_future(self.pool.submit(data))
        if isinstance(outcome, tuple):
            code, detail = outcome
            if code == "unusable":
                return reason_for_unusable_image(detail), f"unusable image: {detail}"
            return code, detail
        if outcome:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self._add_rights, outcome, data)
        return outcome

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, ImageItem) or item.status != "ok":
            return item
        outcome = await self._outcome(item)
        if isinstance(outcome, tuple):
            code, detail = outcome
            return replace(item, status="skipped", reason=detail, reason_code=code, outcome=[])
        return replace(item, outcome=outcome)


class StorePipeline:
    """Writes images and their matches, then pages, to the job's tables.

    Each match is classified against the licences as it is stored (loaded once, when the
    crawl opens: :func:`copyseal.licences.load_index`). Rows are written in batches
    (:class:`~copyseal.crawl._records.RecordBatch`: a transaction per 32 pages or per
    second, and when the crawl closes) in the order items were stored; a distributed
    crawl writes at each page, since its page lease ends once the page item is stored."""

    def __init__(self, ctx: CrawlContext) -> None:
        self.ctx = ctx
        self.licences: LicenceIndex | None = None
        self.batch = RecordBatch(
            engine=ctx.store.engine, max_pages=1 if ctx.distributed else _BATCH_PAGES
        )
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        return cls(CrawlContext.of(crawler))

    def open_spider(self) -> None:
        with self.ctx.store.engine.connect() as conn:
            self.licences = load_index(conn)

    def close_spider(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._flush()

    def _flush(self) -> None:
        self._timer = None
        self.ctx.new_matches += self.batch.flush()

    def _flush_later(self) -> None:
        """Write what waits after at most the batch's delay, also when no page ends."""
        if self._timer is None and len(self.batch):
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.batch.max_delay, self._flush_on_timer)

    def _flush_on_timer(self) -> None:
        try:
            self._flush()
        except Exception:  # the rows stay for the next flush, which raises in the pipeline
            log.exception(
                "could not write %d crawl rows; retried at the next page", len(self.batch)
            )

    def _classify(self, work_id: str, page_url: str, at: datetime) -> tuple[str | None, str | None]:
        if self.licences is None:
            return None, None
        verdict = self.licences.classify(work_id=work_id, page_url=page_url, at=at)
        return verdict.licence_id, verdict.note

    async def process_item(self, item: Any) -> Any:
        ctx = self.ctx
        if isinstance(item, ImageItem):
            try:
                self.batch.add_image(
                    *image_rows(
                        ctx.job_id,
                        image_key=url_key(item.url),
                        page_key=lambda: url_key(item.page_url),
                        page_url=item.page_url,
                        image_url=item.url,
                        sha256=item.sha256,
                        size=item.size,
                        fmt=item.format,
                        status=item.status,
                        reason=item.reason,
                        reason_code=item.reason_code,
                        outcome=item.outcome or [],
                        location=item.ref.location(),
                        classify=self._classify,
                        now=times.now(),
                    )
                )
                self._flush_later()
            finally:
                ctx.fetcher.processed(item.ref.url)
                ctx.image_stored(item.page_url)
            return replace(item, data=None)
        if isinstance(item, PageItem):
            status, reason, code = item.status, item.reason, item.reason_code
            if not await ctx.wait_images(item.url, item.images, timeout=PAGE_IMAGES_TIMEOUT):
                status, reason = "error", "images were not all stored in time"
                code = "images-timeout"
            self.batch.add_page(
                page_row(
                    ctx.job_id,
                    url_key(item.url),
                    status=status,
                    http_status=item.http_status,
                    reason=reason,
                    reason_code=code,
                    final_url=item.final_url,
                    images=item.images,
                    now=times.now(),
                )
            )
            if self.batch.due():
                if self._timer is not None:
                    self._timer.cancel()
                self._flush()
            else:
                self._flush_later()
        return item
