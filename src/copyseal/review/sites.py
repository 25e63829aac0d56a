"""Sites: the host of a page URL is the unit the queue filters by and a case is about."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, Connection

from copyseal.db.schema.crawl import CrawlMatch

__all__ = ["domain_of", "on_site"]


def domain_of(url: str) -> str:
    """The host of ``url`` (lower case, without port), the unit a case is usually about."""
    return (urlsplit(url).hostname or "").lower()


def on_site(conn: Connection, site: str) -> ColumnElement[bool]:
    """SQL: a ``crawl_matches`` row's page is on ``site`` (its host, as :func:`domain_of`
    gives it). One query finds the site's URL prefixes; the condition compares each
    row's prefix with them, so SQL and Python agree on every URL's site."""
    from copyseal.review._sql import sites, url_prefix

    prefixes = sites(conn).get(site.lower(), [])
    return url_prefix(CrawlMatch.page_url).in_(prefixes)
