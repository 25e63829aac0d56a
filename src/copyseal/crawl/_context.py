"""The state one crawl process shares between its spider, pipelines and extensions.

Scrapy builds each component separately (``from_crawler``); :meth:`CrawlContext.of`
gives them all the same object, built once per crawler from the ``COPYSEAL_*`` settings
that :func:`copyseal.crawl._settings.scrapy_settings` wrote.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from copyseal.config import Settings
from copyseal.crawl._caps import ImageCaps
from copyseal.crawl._fetch import ImageFetcher
from copyseal.crawl._spec import JobSpec
from copyseal.crawl._store import FrontierEntry, JobStore
from copyseal.db.session import create_engine

__all__ = ["CrawlContext"]

_ATTRIBUTE = "_copyseal_context"


def host_allowed(url: str, domains: Sequence[str]) -> bool:
    """True if ``url``'s host is one of ``domains`` or a subdomain of one."""
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    return any(host == d or host.endswith("." + d) for d in (d.lower() for d in domains))


@dataclass
class _PageProgress:
    stored: int = 0
    event: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(kw_only=True)
class CrawlContext:
    """A crawl's job, store, image fetcher and per-page bookkeeping."""

    job_id: str
    spec: JobSpec
    settings: Settings
    store: JobStore
    fetcher: ImageFetcher
    known_outcomes: dict[str, list[dict[str, Any]]]
    new_matches: int = 0
    #: A distributed crawl (scrapy-redis frontier); ``seed``: this session seeds the job.
    distributed: bool = False
    seed: bool = False
    _pages: dict[str, _PageProgress] = field(default_factory=dict)
    stylesheets: dict[str, list[Any]] = field(default_factory=dict)
    #: Caps on image fetches per page and per foreign host (None: no caps).
    image_caps: ImageCaps | None = None

    @classmethod
    def of(cls, crawler: Any) -> CrawlContext:
        """The crawler's context (created on first use)."""
        ctx = getattr(crawler, _ATTRIBUTE, None)
        if ctx is None:
            ctx = cls._build(crawler)
            setattr(crawler, _ATTRIBUTE, ctx)
        assert isinstance(ctx, CrawlContext)
        return ctx

    @classmethod
    def _build(cls, crawler: Any) -> CrawlContext:
        s = crawler.settings
        settings: Settings = s["COPYSEAL_SETTINGS"]
        job_id = s["COPYSEAL_JOB_ID"]
        store = JobStore(create_engine(settings.database.url))
        by_url, by_sha = store.processed_images(job_id)

        async def download(request: Any) -> Any:
            return await crawler.engine.download_async(request)

        fetcher = ImageFetcher(
            download=download,
            max_bytes=settings.match.max_bytes,
            timeout=settings.crawl.timeout,
            known=by_url,
        )
        spec = store.spec(job_id)
        return cls(
            job_id=job_id,
            spec=spec,
            settings=settings,
            store=store,
            fetcher=fetcher,
            image_caps=ImageCaps(
                per_page=settings.crawl.max_images_per_page,
                per_host=settings.crawl.max_images_per_host,
                allowed_domains=spec.allowed_domains,
            ),
            known_outcomes=by_sha,
            distributed=s.getbool("COPYSEAL_DISTRIBUTED"),
            seed=s.getbool("COPYSEAL_SEED"),
        )

    # -- frontier ------------------------------------------------------------------------

    def queue(
        self, entries: Sequence[FrontierEntry], *, page_url: str | None = None
    ) -> list[FrontierEntry]:
        """Queue what the job's limits and domains allow; returns the new entries.

        With no ``allowed_domains`` (the ``urls`` spider), pages are followed only on
        the host of the page they were found on. The entries left out are recorded with
        their reason (``off-site``, ``max-depth``; ``max-pages`` by the store).
        """
        domains = list(self.spec.allowed_domains)
        if not domains and page_url:
            domains = [(urlsplit(page_url).hostname or "").removeprefix("www.")]
        keep: list[FrontierEntry] = []
        passed_over: list[tuple[FrontierEntry, str]] = []
        for e in entries:
            if e.kind != "sitemap" and domains and not host_allowed(e.url, domains):
                passed_over.append((e, "off-site"))
            elif e.depth > self.spec.max_depth:
                passed_over.append((e, "max-depth"))
            else:
                keep.append(e)
        return self.store.add_pages(
            self.job_id,
            keep,
            max_pages=self.spec.max_pages,
            passed_over=passed_over,
            found_on=page_url,
        )

    # -- pages waiting for their images -------------------------------------------------

    def image_stored(self, page_url: str) -> None:
        progress = self._pages.setdefault(page_url, _PageProgress())
        progress.stored += 1
        progress.event.set()

    async def wait_images(self, page_url: str, expected: int, *, timeout: float) -> bool:
        """Wait until ``expected`` images of the page are stored (False on timeout)."""
        progress = self._pages.setdefault(page_url, _PageProgress())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while progress.stored < expected:
                progress.event.clear()
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                try:
                    await asyncio.wait_for(progress.event.wait(), remaining)
                except TimeoutError:
                    return progress.stored >= expected
            return True
        finally:
            self._pages.pop(page_url, None)
