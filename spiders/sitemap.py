"""``sitemap``: the pages listed in sitemap.xml files and sitemap indexes (gzip too).

The job's URLs are sitemap URLs; listed pages are fetched, their links are not followed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from copyseal.crawl import CopysealSpider, FrontierEntry


class SitemapSpider(CopysealSpider):
    """Crawl what sitemaps list."""

    name = "sitemap"

    async def seeds(self) -> AsyncIterator[FrontierEntry]:
        for url in self.ctx.spec.urls:
            yield FrontierEntry(url=url, kind="sitemap", depth=0)
