"""``site``: follow links within the allowed domains, and robots.txt's sitemaps.

Depth and page limits, pagination (``rel=next`` first), iframes, and the sitemaps
robots.txt announces (so pages no link leads to are found too) all come from
:class:`copyseal.crawl.CopysealSpider`.
"""

from __future__ import annotations

from copyseal.crawl import CopysealSpider


class SiteSpider(CopysealSpider):
    """Crawl a whole site from its start URLs."""

    name = "site"
    follow_links = True
    robots_sitemaps = True
