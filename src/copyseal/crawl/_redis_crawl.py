"""A distributed crawl session in one worker: Scrapy with scrapy-redis's scheduler.

:func:`run_session` runs one job's crawl in this process until the job is finished or
nothing has come to do for a while (pages held by other workers may still add links;
the worker then looks at its other work and comes back). It is the single-process crawl
(the same spider, extraction, matching and storing pipelines, the same database rows)
with three components added in :func:`session_settings`:

- :class:`RedisScheduler`: scrapy-redis's scheduler on the job's keys (the frontier is a
  priority queue in Redis, the duplicate filter a Redis set of request fingerprints), that
  survives a Redis outage: a request it cannot push stays ``queued`` in the database and
  is pushed again once Redis answers (:meth:`~copyseal.crawl.distributed.Frontier.
  requeue_lost`), a pop that fails is an empty queue.
- :class:`LeaseMiddleware`: leases each page before it is fetched, and drops a page that
  is done, held by a live worker, or given up.
- :class:`SessionExtension`: ends each page's lease when the page is recorded; when idle,
  pushes lost pages again and decides whether the session ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy_redis.scheduler import Scheduler

from copyseal.config import Settings
from copyseal.crawl._context import CrawlContext
from copyseal.crawl._items import PageItem
from copyseal.crawl._runner import load_spiders, spiders_dir
from copyseal.crawl._settings import DEFAULT_MATCHER, scrapy_settings
from copyseal.crawl._spec import JobSpec
from copyseal.crawl._spider import CopysealSpider
from copyseal.crawl._store import JobStore
from copyseal.crawl.distributed import (
    Frontier,
    connect_redis,
    dupefilter_key,
    queue_key,
)
from copyseal.errors import CrawlError
from copyseal.netpolicy import AddressPolicy, EgressProxy

__all__ = ["LeaseMiddleware", "RedisScheduler", "SessionExtension", "run_session"]

log = logging.getLogger(__name__)

#: How often an idle session looks at Redis again (Scrapy's own idle tick is 5 s).
_IDLE_POLL = 0.5


class NotThisWorker(IgnoreRequest):
    """A page this worker must not fetch (done, held by a live worker, or given up):
    dropped without recording anything (the spider's errback skips it)."""

    copyseal_drop = True


def _redis_errors() -> tuple[type[BaseException], ...]:
    import redis

    return (redis.RedisError, OSError)


class RedisScheduler(Scheduler):  # type: ignore[misc]
    """scrapy-redis's scheduler, saying so in one line when Redis is down and going on.

    A request that cannot be pushed is not lost: its page stays ``queued`` in the
    database and is pushed again once the queue is reachable and empty."""

    _down_since: float | None = None

    def _down(self, e: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("redis unreachable (%s: %s); retrying", e.__class__.__name__, e)

    def _up(self) -> None:
        if self._down_since is not None:
            log.warning("redis answers again")
            self._down_since = None

    def open(self, spider: Any) -> Any:
        try:
            return super().open(spider)
        except _redis_errors() as e:
            self._down(e)
            return None

    def enqueue_request(self, request: Any) -> bool:
        try:
            pushed = bool(super().enqueue_request(request))
        except _redis_errors() as e:
            self._down(e)
            return False
        self._up()
        return pushed

    def next_request(self) -> Any:
        try:
            request = super().next_request()
        except _redis_errors() as e:
            self._down(e)
            return None
        self._up()
        return request

    def has_pending_requests(self) -> bool:
        try:
            return len(self) > 0
        except _redis_errors() as e:
            self._down(e)
            return False


def _frontier(crawler: Any) -> Frontier:
    settings: Settings = crawler.settings["COPYSEAL_SETTINGS"]
    frontier = getattr(crawler, "_copyseal_frontier", None)
    if frontier is None:
        frontier = Frontier(
            engine=CrawlContext.of(crawler).store.engine,
            worker_id=crawler.settings["COPYSEAL_WORKER_ID"],
            lease_seconds=settings.distributed.lease_seconds,
            max_attempts=settings.distributed.max_attempts,
        )
        crawler._copyseal_frontier = frontier
    assert isinstance(frontier, Frontier)
    return frontier


class LeaseMiddleware:
    """Leases each page (and sitemap) before it is fetched (downloader middleware)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.ctx = CrawlContext.of(crawler)
        self.frontier = _frontier(crawler)

    @classmethod
    def from_crawler(cls, crawler: Any) -> LeaseMiddleware:
        return cls(crawler)

    async def process_request(self, request: Any) -> None:
        url = request.meta.get("copyseal_url")
        if url is None or request.meta.get("copyseal_leased"):
            return  # images, stylesheets, robots.txt, or a page already leased
        verdict = await asyncio.to_thread(self.frontier.take, self.ctx.job_id, url)
        if verdict != "fetch":
            if self.crawler.stats:
                self.crawler.stats.inc_value(f"copyseal/dropped/{verdict}")
            raise NotThisWorker(f"page {url}: {verdict}")
        request.meta["copyseal_leased"] = True
        if self.ctx.spec.render and "playwright" not in request.meta:
            request.meta.update(self.crawler.spider.render_meta())


class SessionExtension:
    """Ends leases as pages are recorded, and runs the idle policy of a session."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.ctx = CrawlContext.of(crawler)
        self.frontier = _frontier(crawler)
        settings: Settings = crawler.settings["COPYSEAL_SETTINGS"]
        self.redis = connect_redis(settings.distributed.redis_url)
        self.idle_limit = float(crawler.settings.getfloat("COPYSEAL_IDLE_LIMIT", 10.0))
        self._idle_since: float | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> SessionExtension:
        ext = cls(crawler)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.busy, signal=signals.response_received)
        crawler.signals.connect(ext.spider_idle, signal=signals.spider_idle)
        return ext

    async def item_scraped(self, item: Any) -> None:
        if isinstance(item, PageItem):
            await asyncio.to_thread(self.frontier.release, self.ctx.job_id, item.url)

    def busy(self) -> None:
        self._idle_since = None

    def _nudge(self) -> None:
        """Have the engine look at the scheduler again soon (its own tick is 5 s)."""
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None)
        if slot is not None:
            asyncio.get_running_loop().call_later(_IDLE_POLL, slot.nextcall.schedule)

    def spider_idle(self) -> None:
        job = self.ctx.job_id
        if self.frontier.is_finished(job):
            return  # the session ends; the worker marks the job finished
        now = time.monotonic()
        try:
            pushed = self.frontier.requeue_lost(self.redis, job)
            waiting = int(self.redis.zcard(queue_key(job)))
        except _redis_errors() as e:
            log.warning("redis unreachable (%s: %s); retrying", e.__class__.__name__, e)
            pushed = waiting = 0
        if pushed or waiting:
            self._idle_since = None
        elif self._idle_since is None:
            self._idle_since = now
        if self._idle_since is not None and now - self._idle_since >= self.idle_limit:
            return  # other workers hold the rest; this one looks at its other work
        self._nudge()
        raise DontCloseSpider


def session_settings(
    settings: Settings, job_id: str, *, worker_id: str, seed: bool, idle_limit: float
) -> dict[str, Any]:
    """The Scrapy settings a distributed session adds to the single-process ones."""
    url = settings.distributed.redis_url
    return {
        "SCHEDULER": "copyseal.crawl._redis_crawl.RedisScheduler",
        "SCHEDULER_QUEUE_KEY": queue_key(job_id),
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "SCHEDULER_DUPEFILTER_KEY": dupefilter_key(job_id),
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_PERSIST": True,
        "SCHEDULER_IDLE_BEFORE_CLOSE": 0,
        "REDIS_URL": url,
        "REDIS_PARAMS": {"socket_timeout": 10, "socket_connect_timeout": 5},
        "COPYSEAL_DISTRIBUTED": True,
        "COPYSEAL_SEED": seed,
        "COPYSEAL_WORKER_ID": worker_id,
        "COPYSEAL_IDLE_LIMIT": idle_limit,
    }


def run_session(
    settings: Settings,
    job_id: str,
    *,
    worker_id: str,
    seed: bool,
    idle_limit: float = 10.0,
    matcher: str = DEFAULT_MATCHER,
    concurrency: int | None = None,
) -> dict[str, Any]:
    """Crawl pages of distributed job ``job_id`` in this process (one per process: a
    reactor starts once) until it is finished or idle for ``idle_limit`` seconds;
    returns Scrapy's statistics.

    Raises:
        CrawlError: unknown spider, or the crawl could not run at all.
    """
    from copyseal.db.session import create_engine

    store = JobStore(create_engine(settings.database.url))
    spec = store.spec(job_id)
    spiders = load_spiders(spiders_dir(settings))
    spider_cls = spiders.get(spec.spider)
    if spider_cls is None:
        raise CrawlError(f"no spider named {spec.spider!r} (known: {', '.join(sorted(spiders))})")
    kwargs: dict[str, Any] = {
        "worker_id": worker_id,
        "seed": seed,
        "idle_limit": idle_limit,
        "matcher": matcher,
        "concurrency": concurrency,
    }
    policy = spec.policy(settings)
    # As in one process (run_job): the render browser's requests go through an egress
    # proxy that obeys the job's address policy.
    proxy = EgressProxy(policy=policy) if spec.render else None
    if proxy is not None:
        proxy.start()
    try:
        return _crawl(settings, job_id, spec, spider_cls, policy, proxy, **kwargs)
    finally:
        if proxy is not None:
            proxy.close()


def _crawl(
    settings: Settings,
    job_id: str,
    spec: JobSpec,
    spider_cls: type[CopysealSpider],
    policy: AddressPolicy,
    proxy: EgressProxy | None,
    *,
    worker_id: str,
    seed: bool,
    idle_limit: float,
    matcher: str,
    concurrency: int | None,
) -> dict[str, Any]:
    from scrapy.crawler import AsyncCrawlerProcess

    s = scrapy_settings(settings, spec, job_id, matcher=matcher, policy=policy, proxy=proxy)
    s.update(
        session_settings(settings, job_id, worker_id=worker_id, seed=seed, idle_limit=idle_limit)
    )
    if concurrency is not None:
        s["CONCURRENT_REQUESTS"] = concurrency
    s["DOWNLOADER_MIDDLEWARES"] = {
        **s["DOWNLOADER_MIDDLEWARES"],
        "copyseal.crawl._redis_crawl.LeaseMiddleware": 40,
    }
    s["EXTENSIONS"] = {**s["EXTENSIONS"], "copyseal.crawl._redis_crawl.SessionExtension": 510}
    process = AsyncCrawlerProcess({**s, "LOG_INSTALL_ROOT_HANDLER": False})
    logging.getLogger("scrapy").setLevel(
        logging.DEBUG if log.isEnabledFor(logging.DEBUG) else logging.WARNING
    )
    crawler = process.create_crawler(spider_cls)
    process.crawl(crawler)
    process.start()
    return dict(crawler.stats.get_stats()) if crawler.stats else {}
