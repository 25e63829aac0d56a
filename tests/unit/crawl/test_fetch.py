from __future__ import annotations

import asyncio
import base64
import io
from typing import Any

from PIL import Image
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response

from copyseal.crawl._fetch import ImageFetcher, describe_non_image


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, format="PNG")
    return buf.getvalue()


class FakeDownloader:
    def __init__(self, responses: dict[str, tuple[int, bytes, str] | Exception]) -> None:
        self.responses = responses
        self.calls: list[Request] = []

    async def __call__(self, request: Request) -> Any:
        self.calls.append(request)
        await asyncio.sleep(0.01)
        r = self.responses[request.url]
        if isinstance(r, Exception):
            raise r
        status, body, ctype = r
        return Response(request.url, status=status, body=body, headers={"Content-Type": ctype})


def fetcher(dl: FakeDownloader, **kw: Any) -> ImageFetcher:
    return ImageFetcher(download=dl, max_bytes=10_000, timeout=5, **kw)


def test_format_is_sniffed_not_taken_from_name_or_type() -> None:
    dl = FakeDownloader(
        {
            "https://x/photo.txt": (200, png(), "text/plain"),
            "https://x/photo.jpg": (200, b"<!DOCTYPE html><html>hi</html>", "image/jpeg"),
        }
    )
    f = fetcher(dl)
    ok = asyncio.run(f.get("https://x/photo.txt"))
    assert (ok.status, ok.format, ok.size) == ("ok", "PNG", len(png()))
    bad = asyncio.run(f.get("https://x/photo.jpg"))
    assert (bad.status, bad.reason) == ("skipped", "not an image (HTML)")


def test_each_url_is_downloaded_once_even_when_asked_concurrently() -> None:
    dl = FakeDownloader({"https://x/a.png": (200, png(), "image/png")})
    f = fetcher(dl)

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(f.get("https://x/a.png") for _ in range(5))))

    results = asyncio.run(main())
    assert len(dl.calls) == 1
    assert all(r.data == png() for r in results)
    f.processed("https://x/a.png")
    later = asyncio.run(f.get("https://x/a.png"))
    assert later.data is None and later.sha256 == results[0].sha256 and len(dl.calls) == 1
    assert dl.calls[0].meta["download_maxsize"] == 10_000


def test_failures_are_recorded_skips() -> None:
    dl = FakeDownloader(
        {
            "https://x/404.png": (404, b"", "text/html"),
            "https://x/robots.png": IgnoreRequest("Forbidden by robots.txt"),
            "https://x/big.png": RuntimeError("Cancelling download: larger than download_maxsize"),
            "https://x/reset.png": ConnectionResetError("reset"),
        }
    )
    f = fetcher(dl)
    reasons = {u: asyncio.run(f.get(u)).reason for u in dl.responses}
    assert reasons == {
        "https://x/404.png": "HTTP 404",
        "https://x/robots.png": "Forbidden by robots.txt",
        "https://x/big.png": "fetch failed: larger than 10000 bytes",
        "https://x/reset.png": "fetch failed: reset",
    }


def test_data_uris_are_decoded_locally_and_named_by_hash() -> None:
    dl = FakeDownloader({})
    uri = "data:image/png;base64," + base64.b64encode(png()).decode()
    got = asyncio.run(fetcher(dl).get(uri))
    assert got.status == "ok" and got.data == png() and not dl.calls
    assert got.url == f"data:image/png;sha256={got.sha256}"
    bad = asyncio.run(fetcher(dl).get("data:image/png;base64,A"))
    assert bad.status == "skipped" and "bad data: URI" in (bad.reason or "")


def test_known_urls_after_a_resume_are_not_fetched() -> None:
    dl = FakeDownloader({})
    f = fetcher(dl, known={"https://x/a.png": ("ab" * 32, "ok", None)})
    got = asyncio.run(f.get("https://x/a.png"))
    assert (got.sha256, got.data, dl.calls) == ("ab" * 32, None, [])


def test_non_image_descriptions() -> None:
    assert describe_non_image(b"") == "empty body"
    assert describe_non_image(b'{"a": 1}') == "not an image (JSON)"
    assert describe_non_image(b"%PDF-1.7") == "not an image (PDF)"
    assert describe_non_image(b"\x00\x01\x02\x03\x04\x05\x06\x07\x08").startswith(
        "not an image (unknown"
    )
