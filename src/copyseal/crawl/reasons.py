"""Why a page, an image or a link was not crawled: stable reason codes and their remedies.

Every page and image row that is not done carries a short code (``reason_code``) beside
its free-text detail (``reason``); a link that was found but never queued is recorded
with one too (``crawl_link_skips``). Codes are stable: ``copyseal crawl --json`` reports
them (``page_reasons``, ``image_reasons``, ``links_not_followed``) and scripts may rely on
them. :data:`REASONS` is the one table of what each code means and how to get past it.

The classifiers below turn what the crawl meets into a code: a download exception
(Scrapy's, Twisted's or Playwright's, recognised by class name and by the messages those
libraries document, so this module imports none of them), an HTTP status, or the matcher's
refusal of bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "OTHER",
    "REASONS",
    "Reason",
    "describe",
    "explain",
    "reason_for_error",
    "reason_for_status",
    "reason_for_unusable_image",
]


@dataclass(frozen=True, kw_only=True)
class Reason:
    """What a reason code means, for people.

    Attributes:
        label: A short phrase that completes "skipped: ..." (e.g. "a private address").
        remedy: How to crawl it anyway, if the operator may (None: nothing to change).
    """

    label: str
    remedy: str | None = None


#: The code of anything not classified (the detail text says what happened).
OTHER = "other"

#: Every reason code, with its meaning and its remedy (one place for both).
REASONS: dict[str, Reason] = {
    # -- refused before any request ----------------------------------------------------
    "private-address": Reason(
        label="a private address",
        remedy="allow it with `--allow-private` (local test sites only)",
    ),
    "bad-scheme": Reason(label="a URL scheme that is never fetched (only http and https)"),
    "no-host": Reason(label="a URL without a host"),
    "robots-txt": Reason(
        label="forbidden by robots.txt",
        remedy="crawl it anyway with `--ignore-robots REASON` (the reason is recorded)",
    ),
    # -- links found but never queued --------------------------------------------------
    "off-site": Reason(
        label="a link to another site",
        remedy="add its domain to the target's `allowed_domains`",
    ),
    "max-depth": Reason(
        label="deeper than the depth limit", remedy="follow links deeper with `--depth N`"
    ),
    "max-pages": Reason(label="beyond the page limit", remedy="fetch more with `--max-pages N`"),
    # -- images left unfetched by a cap (copyseal.crawl._caps) ------------------------
    "max-images-page": Reason(
        label="beyond the images-per-page cap",
        remedy="raise `crawl.max_images_per_page` if the page is genuine",
    ),
    "max-images-host": Reason(
        label="beyond the images-per-foreign-host cap",
        remedy="raise `crawl.max_images_per_host` (e.g. for the site's own CDN)",
    ),
    # -- the download failed -----------------------------------------------------------
    "dns": Reason(label="a host name that does not resolve"),
    "connection": Reason(label="a connection that failed (refused, reset or lost)"),
    "timeout": Reason(
        label="a timeout",
        remedy="allow more time: `copyseal --set crawl.timeout=SECONDS crawl ...`",
    ),
    "redirect-limit": Reason(
        label="too many redirects (or a redirect loop)",
        remedy="raise `crawl.max_redirects` if the chain is legitimate",
    ),
    "too-large": Reason(
        label="larger than the size limit",
        remedy="raise `crawl.max_page_bytes` (pages) or `match.max_bytes` (images)",
    ),
    "ignored": Reason(label="a request a downloader middleware ignored"),
    # -- the response is not content ---------------------------------------------------
    "http-404": Reason(label="HTTP 404 or 410 (not found)"),
    "http-403": Reason(label="HTTP 403 or 451 (forbidden)"),
    "http-429": Reason(
        label="HTTP 429 (rate limited)",
        remedy="slow down: `copyseal --set crawl.per_domain_concurrency=1 crawl ...` (and"
        " keep `crawl.autothrottle` on)",
    ),
    "http-status": Reason(label="an HTTP error status"),
    "challenge": Reason(label="an anti-bot challenge"),
    "login-wall": Reason(
        label="a login wall",
        remedy="a site-specific spider can log in first (`CopysealSpider.login`)",
    ),
    "soft-404": Reason(label="a page that says it was not found (soft 404)"),
    "not-html": Reason(label="not an HTML page"),
    "bad-sitemap": Reason(label="not a readable sitemap"),
    "not-settled": Reason(
        label="a page whose network never settled (late images may be missing)",
        remedy="wait longer: `copyseal --set crawl.settle_timeout=SECONDS crawl ...`",
    ),
    "images-timeout": Reason(label="a page whose images were not all stored in time"),
    # -- images ------------------------------------------------------------------------
    "bad-data-uri": Reason(label="a malformed data: URI"),
    "not-an-image": Reason(label="not an image (HTML, JSON, PDF, empty or unknown bytes)"),
    "decode-error": Reason(label="an image no decoder accepts (corrupt or truncated)"),
    "too-many-pixels": Reason(
        label="more pixels than the limit (a decompression bomb)",
        remedy="raise `match.max_pixels` if the image is genuine",
    ),
    "matcher-error": Reason(label="a matcher failure (see the log)"),
    "matcher-crashed": Reason(
        label="an image whose match worker died on it (a decoder crash; not retried)"
    ),
    "matcher-timeout": Reason(
        label="an image that took too long to match (its worker was replaced; not retried)"
    ),
    "outcome-lost": Reason(label="an image whose bytes were gone before it was matched"),
    "too-many-attempts": Reason(
        label="a page whose distributed workers died on it every time (not retried)",
        remedy="`distributed.max_attempts`",
    ),
    OTHER: Reason(label="another reason (see the detail)"),
}


def describe(code: str | None) -> Reason:
    """The meaning of ``code`` (unknown and missing codes read as :data:`OTHER`)."""
    return REASONS.get(code or OTHER, REASONS[OTHER])


#: How each status reads in a sentence ("3 pages not found: ...").
_STATUS_WORDS = {
    "skipped": "skipped",
    "blocked": "blocked",
    "not-found": "not found",
    "error": "failed",
    "done": "done with a caveat",
}


def explain(*, count: int, noun: str, status: str, code: str, example: str | None) -> str:
    """One sentence for people: how many, why, an example and the remedy.

    ``explain(count=1, noun="page", status="skipped", code="private-address",
    example="http://127.0.0.1:8765/")`` is ``1 page skipped: a private address
    (http://127.0.0.1:8765/); allow it with `--allow-private` (local test sites only)``.
    """
    reason = describe(code)
    text = f"{count} {noun if count == 1 else noun + 's'} {_STATUS_WORDS.get(status, status)}:"
    text += f" {reason.label}"
    if example:
        text += f" ({example})" if count == 1 else f" (e.g. {example})"
    if reason.remedy:
        text += f"; {reason.remedy}"
    return text


def reason_for_status(status: int) -> str:
    """The code of an HTTP error status."""
    if status in (404, 410):
        return "http-404"
    if status in (403, 451):
        return "http-403"
    if status == 429:
        return "http-429"
    if status in (401, 407):
        return "login-wall"
    return "http-status"


# Exception class names of Scrapy (2.13+, the typed download errors of later releases),
# Twisted and the standard library, by what they mean.
_ERROR_NAMES: dict[str, str] = {
    "DownloadTimeoutError": "timeout",
    "TimeoutError": "timeout",  # twisted.internet.error and the builtin
    "UserTimeoutError": "timeout",
    "TCPTimedOutError": "timeout",
    "CannotResolveHostError": "dns",
    "DNSLookupError": "dns",
    "UnsupportedURLSchemeError": "bad-scheme",
    "DownloadConnectionRefusedError": "connection",
    "ConnectionRefusedError": "connection",
    "ConnectError": "connection",
    "ConnectionLost": "connection",
    "ConnectionDone": "connection",
    "ConnectionResetError": "connection",
    "ConnectionAbortedError": "connection",
    "ResponseNeverReceived": "connection",
    "ResponseFailed": "connection",
    "ResponseDataLossError": "connection",
    "DownloadFailedError": "connection",
    "SSLError": "connection",
}

# Scrapy's documented IgnoreRequest messages (RobotsTxtMiddleware, RedirectMiddleware,
# OffsiteMiddleware).
_IGNORE_MESSAGES = (
    ("forbidden by robots.txt", "robots-txt"),
    ("max redirections reached", "redirect-limit"),
    ("filtered offsite request", "off-site"),
)

# Chromium's net error names as Playwright reports them, and Playwright's timeout text.
_BROWSER_MESSAGES = (
    ("err_name_not_resolved", "dns"),
    ("err_too_many_redirects", "redirect-limit"),
    ("err_connection", "connection"),
    ("err_address_unreachable", "connection"),
    ("err_empty_response", "connection"),
    ("err_ssl", "connection"),
    ("err_cert", "connection"),
    ("err_timed_out", "timeout"),
    ("timeout", "timeout"),
)


def reason_for_error(error: BaseException) -> str:
    """The code of an exception raised while downloading a page or an image.

    A refusal that carries its own code (``code`` attribute, as
    :class:`copyseal.crawl._safety.RefusedAddress`) keeps it.
    """
    code = getattr(error, "code", None)
    if isinstance(code, str) and code in REASONS:
        return code
    text = str(error).lower()
    names = [cls.__name__ for cls in type(error).__mro__]
    if "IgnoreRequest" in names:
        for message, found in _IGNORE_MESSAGES:
            if message in text:
                return found
        return "ignored"
    if ("CancelledError" in names or "DownloadCancelledError" in names) and "larger than" in text:
        return "too-large"
    for name in names:
        if name in _ERROR_NAMES:
            return _ERROR_NAMES[name]
    if type(error).__module__.startswith("playwright"):
        for message, found in _BROWSER_MESSAGES:
            if message in text:
                return found
    if "larger than" in text:
        return "too-large"
    return OTHER


def reason_for_unusable_image(detail: str) -> str:
    """The code of the matcher's refusal of an image's bytes (its ``DecodeError`` text)."""
    text = detail.lower()
    if "decompression bomb" in text:
        return "too-many-pixels"
    if "not an image" in text or "empty file" in text:
        return "not-an-image"
    return "decode-error"
