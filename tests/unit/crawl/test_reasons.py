"""Reason codes: what the crawl meets maps to a stable code, and each code explains itself."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from twisted.internet import error as tx

from copyseal.crawl import classify_page
from copyseal.crawl._fetch import ImageFetcher
from copyseal.crawl._safety import AddressPolicy, RefusedAddress, SafetyMiddleware
from copyseal.crawl.reasons import (
    OTHER,
    REASONS,
    describe,
    explain,
    reason_for_error,
    reason_for_status,
    reason_for_unusable_image,
)


class FakeDownloader:
    """Answers each URL with ``(status, body)`` or raises the exception given for it."""

    def __init__(self, responses: dict[str, tuple[int, bytes] | Exception]) -> None:
        self.responses = responses

    async def __call__(self, request: Request) -> Any:
        r = self.responses[request.url]
        if isinstance(r, Exception):
            raise r
        return Response(request.url, status=r[0], body=r[1])


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (RefusedAddress("refused: host x is private", code="private-address"), "private-address"),
        (RefusedAddress("refused: cannot resolve x", code="dns"), "dns"),
        (IgnoreRequest("Forbidden by robots.txt"), "robots-txt"),
        (IgnoreRequest("max redirections reached"), "redirect-limit"),
        (IgnoreRequest("Filtered offsite request to 'x.example'"), "off-site"),
        (IgnoreRequest("something else"), "ignored"),
        (tx.TimeoutError("User timeout caused connection failure."), "timeout"),
        (tx.DNSLookupError("no such host"), "dns"),
        (tx.ConnectionRefusedError("refused"), "connection"),
        (tx.ConnectionLost("lost"), "connection"),
        (ConnectionResetError("reset"), "connection"),
        (TimeoutError("slow"), "timeout"),
        (ValueError("something unforeseen"), OTHER),
    ],
)
def test_download_errors_map_to_codes(error: BaseException, code: str) -> None:
    assert reason_for_error(error) == code


def test_scrapy_typed_download_errors_map_to_codes() -> None:
    exceptions = pytest.importorskip("scrapy.exceptions")
    if not hasattr(exceptions, "DownloadTimeoutError"):
        pytest.skip("Scrapy without typed download errors")
    assert reason_for_error(exceptions.DownloadTimeoutError("took longer")) == "timeout"
    assert reason_for_error(exceptions.CannotResolveHostError("x")) == "dns"
    assert reason_for_error(exceptions.DownloadConnectionRefusedError("x")) == "connection"
    big = exceptions.DownloadCancelledError(
        "Received 11 bytes which is larger than download max size (10) in request <GET x>."
    )
    assert reason_for_error(big) == "too-large"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (404, "http-404"),
        (410, "http-404"),
        (403, "http-403"),
        (451, "http-403"),
        (429, "http-429"),
        (401, "login-wall"),
        (500, "http-status"),
    ],
)
def test_http_statuses_map_to_codes(status: int, code: str) -> None:
    assert reason_for_status(status) == code


def test_unusable_images_are_told_apart() -> None:
    assert reason_for_unusable_image("x: decompression bomb refused: 9x9") == "too-many-pixels"
    assert reason_for_unusable_image("x: not an image (unrecognised content)") == "not-an-image"
    assert reason_for_unusable_image("x: truncated or corrupt JPEG data") == "decode-error"


def test_every_code_has_a_label_and_unknown_codes_read_as_other() -> None:
    assert all(r.label for r in REASONS.values())
    assert all(code == code.lower() and " " not in code for code in REASONS)
    assert describe("no-such-code") == REASONS[OTHER] == describe(None)


def test_the_explanation_names_count_example_and_remedy() -> None:
    assert explain(
        count=1,
        noun="page",
        status="skipped",
        code="private-address",
        example="http://127.0.0.1:8765/",
    ) == (
        "1 page skipped: a private address (http://127.0.0.1:8765/);"
        " allow it with `--allow-private` (local test sites only)"
    )
    assert explain(
        count=2, noun="page", status="not-found", code="soft-404", example="https://a/x"
    ) == ("2 pages not found: a page that says it was not found (soft 404) (e.g. https://a/x)")


def test_every_flag_a_remedy_names_is_an_option_of_copyseal_crawl() -> None:
    from copyseal.cli import cli
    from copyseal.cli.crawl import crawl

    def options(command: Any) -> set[str]:
        return {opt for p in command.params for opt in getattr(p, "opts", [])}

    named = {
        word.strip("`;,()")
        for r in REASONS.values()
        if r.remedy
        for word in r.remedy.split()
        if word.strip("`").startswith("--")
    }
    assert {"--allow-private", "--ignore-robots", "--depth", "--max-pages", "--set"} <= named
    assert named - {"--set"} <= options(crawl)
    assert "--set" in options(cli)  # a global option, given before `crawl`


def test_address_refusals_carry_their_code() -> None:
    def check(url: str) -> str | None:
        found = asyncio.run(AddressPolicy().check(url))
        return None if found is None else found.code

    assert check("http://127.0.0.1:8765/") == "private-address"
    assert check("http://localhost/") == "private-address"
    assert check("ftp://example.com/") == "bad-scheme"
    assert check("http:///nohost") == "no-host"
    assert check("http://93.184.216.34/") is None
    mw = SafetyMiddleware(AddressPolicy())
    with pytest.raises(RefusedAddress, match=r"non-public address 10\.0\.0\.1") as caught:
        asyncio.run(mw.process_request(Request("http://10.0.0.1/")))
    assert reason_for_error(caught.value) == "private-address"


def test_page_verdicts_carry_their_code() -> None:
    def code(status: int = 200, html: str = "<p>x</p>", title: str = "", text: str = "") -> Any:
        return classify_page(
            status=status, url="https://a/x", headers={}, html=html, title=title, text=text
        ).code

    assert code() is None
    assert code(404) == "http-404"
    assert code(429) == "http-429"
    assert code(html='<div id="cf-chl-widget"></div>') == "challenge"
    assert code(title="Page not found") == "soft-404"
    assert code(html='<input type="password">', text="Please log in") == "login-wall"


def test_image_skips_carry_their_code() -> None:
    dl = FakeDownloader(
        {
            "https://x/404.png": (404, b""),
            "https://x/fake.png": (200, b"<html><body>no</body></html>"),
            "https://x/robots.png": IgnoreRequest("Forbidden by robots.txt"),
            "https://x/big.png": RuntimeError("Cancelling download: larger than download_maxsize"),
            "https://x/slow.png": tx.TimeoutError("slow"),
        }
    )
    f = ImageFetcher(download=dl, max_bytes=10_000, timeout=5)
    codes = {u: asyncio.run(f.get(u)).code for u in dl.responses}
    assert codes == {
        "https://x/404.png": "http-404",
        "https://x/fake.png": "not-an-image",
        "https://x/robots.png": "robots-txt",
        "https://x/big.png": "too-large",
        "https://x/slow.png": "timeout",
    }
    assert asyncio.run(f.get("data:image/png;base64,A")).code == "bad-data-uri"
