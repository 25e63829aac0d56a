"""The rules that turn a re-visited page's state into a result (pure, no browser)."""

from __future__ import annotations

import pytest

from copyseal.revisit import RESULTS, Comparison, PageState, classify
from copyseal.revisit._classify import is_content

URL = "https://shop.example/gallery/item.html"


def _page(**kw: object) -> PageState:
    values: dict[str, object] = {
        "requested_url": URL,
        "final_url": URL,
        "status": 200,
        "verdict": "ok",
        "page_bytes": 20_000,
        "max_page_bytes": 10_000_000,
    }
    values.update(kw)
    return PageState(**values)  # type: ignore[arg-type]


def _same(similarity: float = 0.99, *, flipped: bool = False) -> Comparison:
    return Comparison(similarity=similarity, coverage=1.0, appearance=similarity, flipped=flipped)


def test_the_work_on_the_page_is_present_or_changed() -> None:
    assert classify(_page(), found_here=True, comparison=_same()).result == "present"
    changed = classify(_page(), found_here=True, comparison=_same(0.6))
    assert changed.result == "changed" and "0.6000" in changed.reason
    mirrored = classify(_page(), found_here=True, comparison=_same(0.99, flipped=True))
    assert mirrored.result == "changed" and "mirrored" in mirrored.reason
    # Without a first capture to compare with, the work on the page is present.
    assert classify(_page(), found_here=True).result == "present"


def test_moved_within_the_site_by_redirect_or_link() -> None:
    redirected = _page(final_url="https://www.shop.example/new/item.html")
    assert classify(redirected, found_here=True, comparison=_same()).result == "moved"
    assert classify(_page(), found_here=False, found_elsewhere=True).result == "moved"
    # A fragment is the same page.
    assert classify(_page(final_url=URL + "#top"), found_here=True).result == "present"


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"status": 404}, "page-gone"),
        ({"status": 410}, "page-gone"),
        ({"verdict": "not-found", "verdict_reason": "soft-404"}, "page-gone"),
        ({"status": 401, "verdict": "blocked"}, "blocked"),
        ({"status": 403, "verdict": "blocked"}, "blocked"),
        ({"status": 429, "verdict": "blocked"}, "blocked"),
        ({"status": 503, "verdict": "blocked"}, "blocked"),
        ({"verdict": "blocked", "verdict_reason": "login wall"}, "blocked"),
        ({"verdict": "blocked", "verdict_reason": "cloudflare challenge"}, "blocked"),
        ({"final_url": "https://login.other.example/sso"}, "blocked"),
        ({"page_bytes": 10_000_001}, "blocked"),
    ],
)
def test_a_page_that_is_not_content_is_never_removed(
    state: dict[str, object], expected: str
) -> None:
    # Even when the work is not seen: these pages say nothing about the use.
    verdict = classify(_page(**state), found_here=False)
    assert verdict.result == expected
    assert verdict.result != "removed"
    # An off-site redirect is blocked even if the other site shows the work.
    if "final_url" in state:
        assert classify(_page(**state), found_here=True).result == "blocked"


def test_a_redirect_is_never_removed_and_an_upgrade_is_the_same_page() -> None:
    # Redirected within the site (e.g. to the home page) and the work not there: the page
    # is gone from its address; "removed" is only said of the page itself.
    home = classify(_page(final_url="https://shop.example/"), found_here=False)
    assert home.result == "page-gone" and "redirected" in home.reason
    # An http -> https upgrade, a www. prefix, a default port or a trailing slash is the
    # same page: the work there is present, its absence is removed.
    for final in (
        "http://shop.example/gallery/item.html",
        "https://www.shop.example:443/gallery/item.html/",
    ):
        assert classify(_page(final_url=final), found_here=True).result == "present"
        assert classify(_page(final_url=final), found_here=False).result == "removed"
    # A page redirected within the site is still content: the work is looked for on it.
    assert is_content(_page(final_url="https://shop.example/"))
    assert not is_content(_page(status=404)) and not is_content(_page(verdict="blocked"))


def test_removed_only_when_fetched_and_absent() -> None:
    verdict = classify(_page(), found_here=False)
    assert verdict.result == "removed"
    assert "fetched" in verdict.reason


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_server_error_has_no_result_and_is_retried(status: int) -> None:
    verdict = classify(_page(status=status, verdict="not-found"), found_here=False)
    assert verdict.result is None
    assert f"HTTP {status}" in verdict.reason


def test_every_result_is_documented() -> None:
    assert RESULTS == ("present", "changed", "moved", "removed", "page-gone", "blocked")
