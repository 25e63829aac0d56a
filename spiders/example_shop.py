"""An example site-specific spider: a shop with a login, product pages and pagination.

How to write your own (copy this file into your ``crawl.spiders_dir``):

1. Subclass :class:`copyseal.crawl.CopysealSpider` and give it a unique ``name``; run it
   with ``copyseal crawl URL --spider NAME`` or ``spider: NAME`` in a target.
2. ``links()`` says which links to follow: here only product pages and the next page of
   a listing, chosen with CSS selectors (everything else on the site is ignored).
3. ``login()`` returns a request sent before any page, e.g. a ``FormRequest`` with
   credentials; the session cookie is kept for the whole crawl. Credentials come from the
   environment, never from the YAML or the code.
4. Everything else (rendering, extraction of every image, matching, storing, limits,
   robots.txt, resume) is inherited: do not override ``parse_page``.

The selectors below fit a typical shop theme (``/products/...`` links in
``.product-card``, a ``.pagination a[rel=next]`` link) and are an example.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from urllib.parse import urljoin

from scrapy.http import FormRequest, Request, Response

from copyseal.crawl import CopysealSpider, PageExtract


class ExampleShopSpider(CopysealSpider):
    """Product pages and listing pagination of one shop, logged in if configured."""

    name = "example-shop"
    #: Where the login form posts to, relative to the first start URL.
    login_path = "/account/login"

    def links(self, response: Response, extract: PageExtract) -> Iterable[str]:
        products = response.css(".product-card a::attr(href), a[href*='/products/']::attr(href)")
        pagination = response.css(".pagination a[rel=next]::attr(href), a.next::attr(href)")
        for href in [*pagination.getall(), *products.getall()]:
            yield response.urljoin(href)

    def login(self) -> Request | None:
        user = os.environ.get("EXAMPLE_SHOP_USER")
        password = os.environ.get("EXAMPLE_SHOP_PASSWORD")
        if not user or not password:
            return None
        return FormRequest(
            urljoin(self.ctx.spec.urls[0], self.login_path),
            formdata={"email": user, "password": password},
            dont_filter=True,
        )
