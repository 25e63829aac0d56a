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


def test_fetched_bytes_waiting_for_the_matcher_are_bounded() -> None:
    urls = [f"https://x/{i}.png" for i in range(5)]
    dl = FakeDownloader({u: (200, png(), "image/png") for u in urls})
    f = fetcher(dl, max_pending=2)

    async def main() -> None:
        tasks = [asyncio.ensure_future(f.get(u)) for u in urls]
        await asyncio.sleep(0.1)
        assert len(dl.calls) == 2  # two hold bytes; the others wait for a slot
        assert sum(t.done() for t in tasks) == 2
        for t in [t for t in tasks if t.done()]:
            f.processed(t.result().url)
        await asyncio.sleep(0.1)
        assert len(dl.calls) == 4
        for t in tasks:
            if t.done():
                f.processed(t.result().url)
        results = await asyncio.gather(*tasks)
        assert [r.status for r in results] == ["ok"] * 5
        assert len(dl.calls) == 5

    asyncio.run(main())


def test_skipped_images_hold_no_slot_and_a_lost_item_only_delays() -> None:
    dl = FakeDownloader(
        {
            "https://x/a.png": (404, b"", "text/html"),
            "https://x/b.png": (200, png(), "image/png"),
            "https://x/c.png": (200, png(), "image/png"),
        }
    )
    f = fetcher(dl, max_pending=1, slot_timeout=0.2)

    async def main() -> None:
        assert (await f.get("https://x/a.png")).status == "skipped"  # no bytes: slot freed
        assert (await f.get("https://x/b.png")).data is not None
        assert f.full()
        # b is never processed: c waits for a slot at most ``slot_timeout``, then goes on
        c = await f.get("https://x/c.png")
        assert c.status == "ok"
        f.processed("https://x/b.png")
        assert not f.full()

    asyncio.run(main())


def test_page_requests_wait_while_the_image_backlog_is_full(monkeypatch: Any) -> None:
    from copyseal.crawl import _context
    from copyseal.crawl._fetch import BacklogMiddleware

    dl = FakeDownloader({"https://x/a.png": (200, png(), "image/png")})
    f = fetcher(dl, max_pending=1)
    ctx = type("Ctx", (), {"fetcher": f})()
    monkeypatch.setattr(_context.CrawlContext, "of", classmethod(lambda cls, crawler: ctx))
    mw = BacklogMiddleware(crawler=None)

    async def main() -> None:
        await f.get("https://x/a.png")
        assert f.full()
        image = asyncio.ensure_future(mw.process_request(Request("https://x/b.png")))
        page = asyncio.ensure_future(
            mw.process_request(Request("https://x/p", meta={"copyseal_url": "https://x/p"}))
        )
        await asyncio.sleep(0.15)
        assert image.done() and not page.done()
        f.processed("https://x/a.png")
        await asyncio.wait_for(page, 1)

    asyncio.run(main())
