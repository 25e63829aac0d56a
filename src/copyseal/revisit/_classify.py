"""What a re-visit found, decided from the page's state and where the work was seen.

A pure function, so every rule is testable without a browser. The rules, in order:

1. the page redirected to another site (another host)          → ``blocked``
2. HTTP 404 or 410                                              → ``page-gone``
3. HTTP 5xx other than 503 (a server error is no page state)    → no result: retried
4. HTTP 401/403/407/429/451/503, any other 4xx, a challenge or
   anti-bot page, a login wall (:func:`copyseal.crawl.classify_page`) → ``blocked``
5. the served document is larger than ``crawl.max_page_bytes``  → ``blocked``
6. a 200 page that says it was not found (soft-404)             → ``page-gone``
7. the work is on the page: the page redirected within the site → ``moved``;
   the copy is another crop or edit than the first capture's
   (:attr:`Comparison.changed`)                                 → ``changed``; else ``present``
8. the work is on a same-site page the page links to            → ``moved``
9. the page redirected within the site and the work is not there → ``page-gone``
   (the page no longer answers at its address: the issue's bad-input rule says a redirect
   is never ``removed``)
10. otherwise: the page was fetched and the work is absent      → ``removed``

So ``removed`` is only ever said of a page that was fetched at its own address, is
content, and does not show the work. "The same page" ignores the scheme (an
``http`` → ``https`` upgrade), a leading ``www.``, a default port, a trailing ``/`` and
the fragment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from copyseal.revisit._compare import Comparison

__all__ = ["RESULTS", "PageState", "Verdict", "classify", "is_content", "same_site"]

#: Every result a visit can have.
RESULTS: Final = ("present", "changed", "moved", "removed", "page-gone", "blocked")


def same_site(a: str, b: str) -> bool:
    """Both URLs are on one site: the same host, ignoring case and a leading ``www.``."""

    def host(url: str) -> str:
        name = (urlsplit(url).hostname or "").lower()
        return name.removeprefix("www.")

    return host(a) == host(b)


def _page_key(url: str) -> tuple[str, int | None, str, str]:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    try:
        port = parts.port
    except ValueError:
        port = None
    if port == {"http": 80, "https": 443}.get(parts.scheme.lower()):
        port = None
    return host, port, parts.path.rstrip("/") or "/", parts.query


def _same_page(a: str, b: str) -> bool:
    return _page_key(a) == _page_key(b)


@dataclass(frozen=True, kw_only=True)
class PageState:
    """The re-visited page as the capture saw it."""

    requested_url: str
    final_url: str
    #: HTTP status of the final document response.
    status: int
    #: :func:`copyseal.crawl.classify_page`'s verdict: ``ok``, ``blocked``, ``not-found``.
    verdict: str
    verdict_reason: str | None = None
    #: Bytes of the served document, and the cap (``crawl.max_page_bytes``).
    page_bytes: int = 0
    max_page_bytes: int = 10_000_000


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """A visit's result (None: no result, the visit is retried) and why."""

    result: str | None
    reason: str


def classify(
    page: PageState,
    *,
    found_here: bool,
    found_elsewhere: bool = False,
    comparison: Comparison | None = None,
) -> Verdict:
    """Decide a visit's result (see the module docstring for the rules)."""
    not_content = _not_content(page)
    if not_content is not None:
        return not_content
    if found_here:
        if not _same_page(page.requested_url, page.final_url):
            return Verdict(result="moved", reason=f"the page redirected to {page.final_url}")
        if comparison is not None and comparison.changed:
            why = "mirrored" if comparison.flipped else f"similarity {comparison.similarity:.4f}"
            return Verdict(result="changed", reason=f"another crop or edit ({why})")
        if comparison is None:
            return Verdict(result="present", reason="found (no first capture to compare with)")
        return Verdict(result="present", reason=f"similarity {comparison.similarity:.4f}")
    if found_elsewhere:
        return Verdict(result="moved", reason="found on a page linked from this one")
    if not _same_page(page.requested_url, page.final_url):
        return Verdict(
            result="page-gone",
            reason=f"the page redirected to {page.final_url}, which does not show the work",
        )
    return Verdict(result="removed", reason="the page was fetched and does not show the work")


def is_content(page: PageState) -> bool:
    """Rules 1-6 do not apply: the page is content, worth looking for the work on (and on
    the same-site pages it links to)."""
    return _not_content(page) is None


def _not_content(page: PageState) -> Verdict | None:
    """The verdict of rules 1-6, or None when the page is content."""
    status = page.status
    if not same_site(page.requested_url, page.final_url):
        host = urlsplit(page.final_url).hostname
        return Verdict(result="blocked", reason=f"redirected off the site, to {host}")
    if status in (404, 410):
        return Verdict(result="page-gone", reason=f"HTTP {status}")
    if status >= 500 and status != 503:
        return Verdict(result=None, reason=f"HTTP {status} (a server error; retried next run)")
    if page.verdict == "blocked" or status >= 400:
        return Verdict(result="blocked", reason=page.verdict_reason or f"HTTP {status}")
    if page.page_bytes > page.max_page_bytes:
        return Verdict(
            result="blocked",
            reason=f"page of {page.page_bytes} bytes, over the {page.max_page_bytes}-byte cap",
        )
    if page.verdict == "not-found":
        return Verdict(result="page-gone", reason=page.verdict_reason or "soft-404")
    return None
