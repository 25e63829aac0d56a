from __future__ import annotations

import pytest

from copyseal.crawl import classify_page

ARTICLE = "<html><body>" + "<p>" + "A long article about photographs. " * 40 + "</p></body></html>"


def verdict(
    status: int = 200,
    html: str = ARTICLE,
    *,
    title: str = "",
    url: str = "https://x.example/a",
    headers: dict[str, str] | None = None,
    text: str | None = None,
) -> tuple[str, str | None]:
    v = classify_page(
        status=status,
        url=url,
        headers=headers or {},
        html=html,
        title=title,
        text=text if text is not None else "A long article about photographs. " * 40,
    )
    return v.status, v.reason


def test_ordinary_page_is_content() -> None:
    assert verdict() == ("ok", None)


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<title>Just a moment...</title><div id='cf-chl-widget'>", "cloudflare challenge"),
        ("<title>Attention Required! | Cloudflare</title>", "cloudflare interstitial"),
        ("<div class='g-recaptcha' data-sitekey='x'></div>", "captcha"),
        ("<script src='https://ct.captcha-delivery.com/c.js'></script>", "datadome"),
        ("<p>Checking your browser before accessing the site.</p>", "browser check"),
        ("<h1>Please verify you are a human</h1>", "bot check"),
    ],
)
def test_challenges_are_blocked(html: str, reason: str) -> None:
    assert verdict(200, html) == ("blocked", reason)


def test_challenge_header_and_status_codes() -> None:
    assert verdict(headers={"CF-Mitigated": "challenge"}) == ("blocked", "cf-mitigated header")
    assert verdict(403) == ("blocked", "HTTP 403")
    assert verdict(429) == ("blocked", "HTTP 429")
    assert verdict(401) == ("blocked", "login required (HTTP 401)")
    assert verdict(404) == ("not-found", "HTTP 404")
    assert verdict(410) == ("not-found", "HTTP 410")


def test_soft_404_by_title_and_short_text() -> None:
    assert verdict(title="Page not found – Shop") == ("not-found", "soft-404")
    assert verdict(html="<p>Oops</p>", text="Oops! That page doesn't exist.") == (
        "not-found",
        "soft-404",
    )


def test_login_walls() -> None:
    form = "<form><input name=u><input type='password' name=p></form>"
    assert verdict(html=form, url="https://x.example/account/login", text="Email Password") == (
        "blocked",
        "login wall",
    )
    assert verdict(html=form, text="Sign in to continue to your gallery") == (
        "blocked",
        "login wall",
    )


def test_a_small_login_box_on_a_long_page_is_still_content() -> None:
    html = ARTICLE + "<form><input type='password'></form>"
    assert verdict(html=html, url="https://x.example/gallery/1") == ("ok", None)


def test_prose_mentioning_not_found_is_content() -> None:
    text = "We found the photograph that was not found elsewhere. " * 30
    assert verdict(text=text, title="Our story") == ("ok", None)
