"""The behaviour every copyseal spider shares; the spiders in ``spiders/`` stay thin.

A subclass chooses its seeds (:meth:`CopysealSpider.seeds`) and, if it follows links,
which ones (:meth:`CopysealSpider.links`). Everything else is here: the database-backed
frontier (resumable), static or rendered fetching, classification of challenge and
not-found pages, extraction of every image, fetching each image once, and the items the
pipelines match and store.

Writing a site-specific spider: subclass :class:`CopysealSpider`, set ``name``, and
override :meth:`links` (which links to follow: CSS selectors for product pages and
pagination), :meth:`seeds` (where to start), or :meth:`login` (a request to send first,
e.g. a ``FormRequest``; cookies are kept). See ``spiders/example_shop.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response, TextResponse
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from copyseal.crawl._context import CrawlContext
from copyseal.crawl._contexts import ContextRotation
from copyseal.crawl._detect import classify_page
from copyseal.crawl._extract import ImageRef, PageExtract, extract_html, merge_refs, refs_from_css
from copyseal.crawl._fetch import ERROR_STATUSES
from copyseal.crawl._items import ImageItem, PageItem
from copyseal.crawl._render import NetworkLog, collect_rendered, scroll_and_settle
from copyseal.crawl._safety import crawl_policy
from copyseal.crawl._settle import install_settle_watch
from copyseal.crawl._store import FrontierEntry
from copyseal.crawl.reasons import reason_for_error

__all__ = ["CopysealSpider"]


class CopysealSpider(scrapy.Spider):
    """Base spider: subclasses set ``name`` and override the hooks below."""

    name = "copyseal-base"
    #: Follow links found on pages (the ``site`` spider); others only fetch their seeds.
    follow_links: ClassVar[bool] = False
    #: Also queue the sitemaps that robots.txt announces (unlinked pages are found too).
    robots_sitemaps: ClassVar[bool] = False

    ctx: CrawlContext

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> CopysealSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.ctx = CrawlContext.of(crawler)
        return spider

    # -- hooks ---------------------------------------------------------------------------

    async def seeds(self) -> AsyncIterator[FrontierEntry]:
        """Where the crawl starts (default: each URL of the job as a page)."""
        for url in self.ctx.spec.urls:
            yield FrontierEntry(url=url, kind="page", depth=0)
        if self.robots_sitemaps:
            for sitemap in await self.robots_sitemap_urls():
                yield FrontierEntry(url=sitemap, kind="sitemap", depth=0)

    def links(self, response: Response, extract: PageExtract) -> Iterable[str]:
        """The page links to follow (default: every link, pagination first)."""
        if not self.follow_links:
            return ()
        return (*extract.next_pages, *extract.links)

    def login(self) -> Request | None:
        """A request to send before any page (e.g. a login form); None: no login."""
        return None

    # -- start ---------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        login = self.login()
        if login is not None:
            await self.crawler.engine.download_async(login)
        if self.ctx.distributed and not self.ctx.seed:
            return  # the pages come from the job's shared frontier (Redis)
        entries = [e async for e in self.seeds()]
        self.ctx.queue(entries)
        if self.ctx.seed:
            from copyseal.crawl.distributed import mark_seeded

            mark_seeded(self.ctx.store.engine, self.ctx.job_id)
        for entry in self.ctx.store.pending(self.ctx.job_id):
            yield self.request_for(entry)

    async def robots_sitemap_urls(self) -> list[str]:
        """The ``Sitemap:`` lines of the start hosts' robots.txt files."""
        found: list[str] = []
        for origin in dict.fromkeys(
            urlunsplit((p.scheme, p.netloc, "/robots.txt", "", ""))
            for p in (urlsplit(u) for u in self.ctx.spec.urls)
        ):
            try:
                response = await self.crawler.engine.download_async(
                    Request(origin, dont_filter=True, meta={"dont_obey_robotstxt": True})
                )
            except Exception as e:
                self.logger.info("no robots.txt at %s: %s", origin, e)
                continue
            if response.status == 200 and isinstance(response, TextResponse):
                found.extend(sitemap_urls_from_robots(response.text, base_url=origin))
        return found

    def request_for(self, entry: FrontierEntry) -> Request:
        """The Scrapy request for a frontier entry (rendered when the job says so)."""
        meta: dict[str, Any] = {
            "copyseal_url": entry.url,
            "copyseal_depth": entry.depth,
            "handle_httpstatus_list": ERROR_STATUSES,
        }
        if entry.kind == "sitemap":
            return Request(
                entry.url,
                callback=self.parse_sitemap,
                errback=self.page_failed,
                dont_filter=True,
                meta=meta,
                priority=10,
            )
        # A distributed crawl's requests are stored in Redis: the browser's objects are
        # attached when a worker takes the page (render_meta), and the shared duplicate
        # filter settles two workers queueing one link at once.
        if self.ctx.spec.render and not self.ctx.distributed:
            meta.update(self.render_meta())
        return Request(
            entry.url,
            callback=self.parse_page,
            errback=self.page_failed,
            dont_filter=not self.ctx.distributed,
            meta=meta,
            priority=-entry.depth,
        )

    def render_meta(self) -> dict[str, Any]:
        """The request meta that has scrapy-playwright render a page (render mode)."""
        net = NetworkLog()
        return {
            "playwright": True,
            "playwright_include_page": True,
            "playwright_page_goto_kwargs": {"wait_until": "domcontentloaded"},
            "playwright_page_event_handlers": net.handlers(),
            "playwright_page_init_callback": install_settle_watch,
            "copyseal_net": net,
        }

    # -- pages ---------------------------------------------------------------------------

    async def parse_page(self, response: Response) -> AsyncIterator[Any]:
        """Classify, follow, extract, fetch: image items, then the page item."""
        url = response.meta["copyseal_url"]
        depth = response.meta["copyseal_depth"]
        page = response.meta.get("playwright_page")
        rendered: list[ImageRef] = []
        settled = True
        try:
            # The final URL after redirects (a browser's, in render mode) must obey the
            # address policy too: a public page that redirects to an internal one is
            # refused, not stored as done with the internal URL.
            refused = await crawl_policy(self.crawler).check(response.url)
            if refused is not None:
                yield PageItem(
                    url=url,
                    status="skipped",
                    http_status=response.status,
                    reason=f"refused: redirected to {response.url}: {refused.detail}"[:500],
                    reason_code=refused.code,
                    final_url=response.url,
                )
                return
            if not isinstance(response, TextResponse):
                yield PageItem(
                    url=url,
                    status="error",
                    http_status=response.status,
                    reason="not an HTML page",
                    reason_code="not-html",
                    final_url=response.url,
                )
                return
            html = response.text
            if page is not None:
                net: NetworkLog = response.meta["copyseal_net"]
                crawl = self.ctx.settings.crawl
                settled = await scroll_and_settle(
                    page,
                    net,
                    steps=crawl.scroll_steps,
                    settle=crawl.settle_timeout,
                    quiet=crawl.render_quiet,
                    timer_window=crawl.render_timer_window,
                )
                rendered = await collect_rendered(page, net)
                html = await page.content()
        finally:
            await ContextRotation.of(self.crawler).release(response.meta, page)
        extract = extract_html(html, response.url)
        verdict = classify_page(
            status=response.status,
            url=response.url,
            headers={k.decode(): v[0].decode("latin-1") for k, v in response.headers.items() if v},
            html=html,
            title=extract.title,
            text=extract.text,
        )
        if verdict.status != "ok":
            yield PageItem(
                url=url,
                status=verdict.status,
                http_status=response.status,
                reason=verdict.reason,
                reason_code=verdict.code,
                final_url=response.url,
            )
            return
        children = [FrontierEntry(url=u, kind="page", depth=depth) for u in extract.iframes]
        children += [
            FrontierEntry(url=u, kind="page", depth=depth + 1)
            for u in self.links(response, extract)
        ]
        for entry in self.ctx.queue(children, page_url=response.url):
            yield self.request_for(entry)
        refs = [*extract.images, *rendered]
        if page is None:
            refs += await self._stylesheet_refs(extract.stylesheets)
        count = 0
        async for item in self._image_items(url, merge_refs(refs)):
            count += 1
            yield item
        yield PageItem(
            url=url,
            status="done",
            http_status=response.status,
            final_url=response.url,
            images=count,
            reason=None if settled else "network never settled",
            reason_code=None if settled else "not-settled",
        )

    async def _image_items(self, page_url: str, refs: list[ImageRef]) -> AsyncIterator[ImageItem]:
        async def one(ref: ImageRef) -> ImageItem:
            f = await self.ctx.fetcher.get(ref.url)
            return ImageItem(
                page_url=page_url,
                ref=ref,
                url=f.url,
                status=f.status,
                reason=f.reason,
                reason_code=f.code,
                sha256=f.sha256,
                size=f.size,
                format=f.format,
                data=f.data,
            )

        caps = self.ctx.image_caps
        if caps is not None:
            refs, capped = caps.admit(page_url, refs)
            for c in capped:  # recorded, not fetched
                yield ImageItem(
                    page_url=page_url,
                    ref=c.ref,
                    url=c.ref.url,
                    status="skipped",
                    reason=c.reason,
                    reason_code=c.code,
                )
        for next_done in asyncio.as_completed([one(r) for r in refs]):
            yield await next_done

    async def _stylesheet_refs(self, urls: Iterable[str], level: int = 0) -> list[ImageRef]:
        out: list[ImageRef] = []
        for url in urls:
            cached = self.ctx.stylesheets.get(url)
            if cached is None:
                cached = []
                self.ctx.stylesheets[url] = cached
                try:
                    response = await self.crawler.engine.download_async(
                        Request(url, dont_filter=True)
                    )
                except Exception as e:
                    self.logger.info("stylesheet %s: %s", url, e)
                    continue
                if response.status == 200 and len(response.body) <= 5_000_000:
                    text = response.body.decode("utf-8", "replace")
                    cached.extend(refs_from_css(text, response.url, kind="stylesheet"))
                    if level < 2:
                        from copyseal.crawl._css import css_imports

                        imports = [response.urljoin(i) for i in css_imports(text)]
                        cached.extend(await self._stylesheet_refs(imports, level + 1))
            out.extend(cached)
        return out

    # -- sitemaps ------------------------------------------------------------------------

    async def parse_sitemap(self, response: Response) -> AsyncIterator[Any]:
        """Queue a sitemap's pages (depth 0) or an index's sitemaps."""
        url = response.meta["copyseal_url"]
        body = response.body
        if body[:2] == b"\x1f\x8b":
            try:
                body = gunzip(body, max_size=self.ctx.settings.crawl.max_page_bytes)
            except OSError as e:
                yield PageItem(
                    url=url, status="error", reason=f"bad gzip: {e}", reason_code="bad-sitemap"
                )
                return
        try:
            sitemap = Sitemap(body)
        except Exception as e:
            yield PageItem(
                url=url,
                status="error",
                http_status=response.status,
                reason=f"not a sitemap: {e}",
                reason_code="bad-sitemap",
            )
            return
        kind = "sitemap" if sitemap.type == "sitemapindex" else "page"
        entries = [
            FrontierEntry(url=str(e["loc"]).strip(), kind=kind, depth=0)
            for e in sitemap
            if e.get("loc")
        ]
        for entry in self.ctx.queue(entries, page_url=response.url):
            yield self.request_for(entry)
        yield PageItem(url=url, status="done", http_status=response.status, final_url=response.url)

    # -- failures ------------------------------------------------------------------------

    async def page_failed(self, failure: Any) -> AsyncIterator[Any]:
        """A page could not be fetched: record why (robots.txt, refused address,
        redirect loop, timeout, ...) and go on."""
        request = failure.request
        await ContextRotation.of(self.crawler).release(
            request.meta, request.meta.get("playwright_page")
        )
        error = failure.value
        if getattr(error, "copyseal_drop", False):
            return  # a distributed page this worker must not fetch (done, or held)
        reason = str(error) or error.__class__.__name__
        status = "error"
        if isinstance(error, IgnoreRequest) and "redirect" not in reason:
            status = "skipped"
        yield PageItem(
            url=request.meta["copyseal_url"],
            status=status,
            reason=reason[:500],
            reason_code=reason_for_error(error),
        )
