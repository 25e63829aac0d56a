"""Pages that are not content: anti-bot interstitials, challenges, login walls, soft-404s.

A page classified here is recorded as ``blocked`` or ``not-found`` and never treated as
content (its images are not matched, its links not followed): a challenge page says
nothing about what the site shows its visitors, and evidence must not rest on it.

The markers are those of the common vendors (Cloudflare, Akamai, DataDome, PerimeterX /
HUMAN, Imperva/Incapsula, Sucuri, AWS WAF, hCaptcha/reCAPTCHA/Turnstile) and of the usual
"page not found" wording; each verdict names the marker that decided it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from copyseal.crawl.reasons import reason_for_status

__all__ = ["PageVerdict", "classify_page"]

Status = Literal["ok", "blocked", "not-found"]

_CHALLENGE_MARKERS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.I))
    for name, pattern in (
        ("cloudflare challenge", r"cf-chl-|challenge-platform|cf_chl_opt|/cdn-cgi/challenge"),
        ("cloudflare interstitial", r"<title>\s*(just a moment|attention required)"),
        ("browser check", r"checking (if the site connection is secure|your browser)"),
        ("captcha", r"g-recaptcha|h-captcha|hcaptcha\.com/1/api|cf-turnstile|px-captcha"),
        ("captcha", r"<title>[^<]*captcha"),
        ("datadome", r"captcha-delivery\.com"),
        ("perimeterx", r"_pxhd|px-cloud\.net/|px-captcha"),
        ("incapsula", r"_incapsula_resource|incapsula incident"),
        ("sucuri", r"sucuri website firewall|sucuri\.net/privacy-policy"),
        ("akamai", r"access denied</h1>[\s\S]{0,400}reference #"),
        ("aws waf", r"awswaf|aws-waf-token"),
        ("ddos protection", r"ddos protection by|ddos-guard"),
        ("bot check", r"are you a (human|robot)|verify you are (a )?human|unusual traffic"),
    )
)
_CHALLENGE_HEADERS = (("cf-mitigated", "challenge"), ("x-datadome", ""), ("x-amzn-waf-action", ""))
_LOGIN_URL = re.compile(r"/(log-?in|sign-?in|signin|auth|account/login|session/new)\b", re.I)
_LOGIN_TEXT = re.compile(
    r"\b(log ?in|sign ?in)\b[^.]{0,60}\b(to continue|to view|to see|required)|"
    r"\bplease (log ?in|sign ?in)\b|\bmembers only\b",
    re.I,
)
_PASSWORD = re.compile(r"<input[^>]+type\s*=\s*[\"']?password", re.I)
_NOT_FOUND_TITLE = re.compile(
    r"\b(404|not found|page (does not|doesn'?t) exist|page not available|no longer available|"
    r"nothing (was )?found|seite nicht gefunden|page introuvable|página no encontrada)\b",
    re.I,
)


@dataclass(frozen=True, kw_only=True)
class PageVerdict:
    """Whether a fetched page is content, and if not, why (``code``: a reason code of
    :mod:`copyseal.crawl.reasons`; ``reason``: the detail)."""

    status: Status
    reason: str | None = None
    code: str | None = None


def _header(headers: Mapping[str, str], name: str) -> str:
    for k, v in headers.items():
        if k.lower() == name:
            return v.lower()
    return ""


def classify_page(
    *,
    status: int,
    url: str,
    headers: Mapping[str, str],
    html: str,
    title: str = "",
    text: str = "",
) -> PageVerdict:
    """Classify a fetched page.

    Args:
        status: HTTP status of the (final) response.
        url: The final URL (after redirects).
        headers: Response headers (names in any case).
        html: The HTML (only its first 200 kB are searched).
        title: The page's ``<title>`` text.
        text: The visible text of the body (whitespace collapsed).

    Returns:
        ``ok``, ``blocked`` (challenge, anti-bot, login wall, 401/403/429) or ``not-found``
        (404/410, or a 200 page that says it was not found: a soft-404).
    """
    head = html[:200_000]
    for name, expected in _CHALLENGE_HEADERS:
        value = _header(headers, name)
        if value and (not expected or expected in value):
            return PageVerdict(status="blocked", reason=f"{name} header", code="challenge")
    for name, pattern in _CHALLENGE_MARKERS:
        if pattern.search(head):
            return PageVerdict(status="blocked", reason=name, code="challenge")
    code = reason_for_status(status)
    if status in (404, 410):
        return PageVerdict(status="not-found", reason=f"HTTP {status}", code=code)
    if status in (401, 407):
        return PageVerdict(status="blocked", reason=f"login required (HTTP {status})", code=code)
    if status in (403, 429, 451):
        return PageVerdict(status="blocked", reason=f"HTTP {status}", code=code)
    if status >= 400:
        return PageVerdict(
            status="blocked" if status == 503 else "not-found", reason=f"HTTP {status}", code=code
        )
    has_password = bool(_PASSWORD.search(head))
    words = len(text.split())
    if has_password and (_LOGIN_URL.search(url) or _LOGIN_TEXT.search(text) or words < 150):
        return PageVerdict(status="blocked", reason="login wall", code="login-wall")
    if _LOGIN_TEXT.search(title) or (words < 80 and _LOGIN_TEXT.search(text)):
        return PageVerdict(status="blocked", reason="login wall", code="login-wall")
    if _NOT_FOUND_TITLE.search(title) or (words < 60 and _NOT_FOUND_TITLE.search(text[:300])):
        return PageVerdict(status="not-found", reason="soft-404", code="soft-404")
    return PageVerdict(status="ok")
