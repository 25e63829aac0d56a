"""``urls``: the pages listed in files of URLs (one a line; ``#`` comments), e.g. the
results of a reverse-image search. Links are not followed; iframes on the same host are.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from copyseal.crawl import CopysealSpider, FrontierEntry
from copyseal.errors import CrawlError


class UrlsSpider(CopysealSpider):
    """Crawl the URLs in files (or URLs given directly)."""

    name = "urls"

    async def seeds(self) -> AsyncIterator[FrontierEntry]:
        for item in self.ctx.spec.urls:
            if "://" in item:
                yield FrontierEntry(url=item, kind="page", depth=0)
                continue
            try:
                lines = Path(item).read_text(encoding="utf-8").splitlines()
            except OSError as e:
                raise CrawlError(f"cannot read the URL file {item}: {e}") from e
            for line in lines:
                url = line.split("#", 1)[0].strip()
                if url.startswith(("http://", "https://")):
                    yield FrontierEntry(url=url, kind="page", depth=0)
