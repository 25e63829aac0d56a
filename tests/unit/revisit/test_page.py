"""The images a re-visit looks at: a capture's inlined ``data:`` URI images (real photos)."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from copyseal.capture import Capture
from copyseal.capture.result import Artefact
from copyseal.registry import WorkRecord, build_matcher, register_paths
from copyseal.revisit._page import (
    FETCHED_BY_COPYSEAL,
    FROM_PAGE_LOAD,
    INLINE,
    NAMED_ONLY,
    PageImage,
    find_work,
    page_images,
)
from copyseal.workspace import Workspace


def _jpeg(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=85)
    return out.getvalue()


def _wacz(responses: list[tuple[str, bytes, bool]], *, failed: tuple[str, ...] = ()) -> bytes:
    """A WACZ whose WARC holds ``(url, body, fetched by copyseal)`` image responses, after
    the browser's own 404 for each of the ``failed`` URLs."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    warc = io.BytesIO()
    writer = WARCWriter(warc, gzip=True)
    answers = [(url, b"", False, "404 Not Found") for url in failed]
    for url, body, by_copyseal, status in [*answers, *((*r, "200 OK") for r in responses)]:
        http = StatusAndHeaders(status, [("Content-Type", "image/jpeg")], protocol="HTTP/1.1")
        http.compute_headers_buffer()
        # Length and digests given, so warcio does not spool the record to compute them.
        extra = {
            "WARC-Payload-Digest": f"sha256:{hashlib.sha256(body).hexdigest()}",
            "WARC-Block-Digest": f"sha256:{hashlib.sha256(http.headers_buff + body).hexdigest()}",
        }
        if by_copyseal:
            extra[FETCHED_BY_COPYSEAL] = "copyseal"
        writer.write_record(
            writer.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(body),
                length=len(body),
                http_headers=http,
                warc_headers_dict=extra,
            )
        )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("archive/data.warc.gz", warc.getvalue())
    return out.getvalue()


def _capture(folder: Path, files: dict[str, str | bytes]) -> Capture:
    """A capture folder holding ``files`` (role -> HTML text, or the WACZ's bytes)."""
    artefacts = []
    for role, text in files.items():
        data = text.encode() if isinstance(text, str) else text
        (folder / f"{role}.html").write_bytes(data)
        artefacts.append(
            Artefact(
                path=f"{role}.html",
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                media_type="text/html",
                role=role,
            )
        )
    now = datetime.now(UTC)
    return Capture(
        capture_id="c",
        url="http://127.0.0.1:8000/page.html",
        final_url="http://127.0.0.1:8000/page.html",
        folder=folder,
        started_at=now,
        finished_at=now,
        artefacts=tuple(artefacts),
        facts={"wacz": {"warc_member": "archive/data.warc.gz"}},
    )


def _three_photos(photos: dict[str, np.ndarray]) -> tuple[bytes, bytes, bytes]:
    a, b, c = (_jpeg(photos[n][::4, ::4]) for n in ("chelsea", "coffee", "rocket"))
    return a, b, c


def _fetched(base: str, **images: bytes) -> list[tuple[str, bytes, bool]]:
    """Responses copyseal fetched itself, at ``<base>/img/<name>.jpg``."""
    return [(f"{base}/img/{name}.jpg", data, True) for name, data in images.items()]


def _uri(data: bytes, media_type: str = "image/jpeg") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def test_data_uri_images_are_read_from_the_dom_each_once_named_as_the_crawl_names_them(
    tmp_path: Path, photos: dict[str, np.ndarray]
) -> None:
    coffee = _jpeg(photos["coffee"][::4, ::4])
    rocket = _jpeg(photos["rocket"][::4, ::4])
    dom = (
        f'<html><body><img src="{_uri(coffee)}"><img src="{_uri(coffee)}">'
        f"<div style=\"background-image:url('{_uri(rocket)}')\"></div>"
        f'<img src="{_uri(b"plain text, not an image", "image/png")}">'
        '<img src="data:image/png;base64,%%%"><img src="/img/elsewhere.jpg"></body></html>'
    )
    # The served HTML had no inline image: a script inserted them, so only the DOM has them.
    capture = _capture(tmp_path, {"raw-html": "<html><body></body></html>", "dom": dom})
    found = list(page_images(capture, max_bytes=10_000_000))
    assert found == [
        (f"data:image/jpeg;sha256={hashlib.sha256(coffee).hexdigest()}", coffee, INLINE),
        (f"data:image/jpeg;sha256={hashlib.sha256(rocket).hexdigest()}", rocket, INLINE),
    ]
    small, large = sorted(found, key=lambda f: len(f[1]))
    assert list(page_images(capture, max_bytes=len(large[1]) - 1)) == [small]


def test_without_a_dom_the_served_html_is_read(
    tmp_path: Path, photos: dict[str, np.ndarray]
) -> None:
    coffee = _jpeg(photos["coffee"][::4, ::4])
    capture = _capture(tmp_path, {"raw-html": f'<img src="{_uri(coffee)}">'})
    assert [d for _, d, _ in page_images(capture, max_bytes=10_000_000)] == [coffee]
    assert list(page_images(_capture(tmp_path, {}), max_bytes=10_000_000)) == []


def test_an_image_copyseal_fetched_counts_only_while_the_page_names_it(
    tmp_path: Path, photos: dict[str, np.ndarray]
) -> None:
    """The browser does not load an ``og:image``: the capture fetches the matched image
    itself, and that record is the page's as long as the page still announces it."""
    base = "http://127.0.0.1:8000"
    loaded, og, dropped = _three_photos(photos)
    page_load = (f"{base}/img/loaded.jpg", loaded, False)
    wacz = _wacz([page_load, *_fetched(base, og=og, dropped=dropped)])
    dom = (
        '<html><head><meta property="og:image" content="/img/%6fg.jpg#top"></head>'
        '<body><img src="/img/loaded.jpg"></body></html>'
    )
    capture = _capture(tmp_path, {"dom": dom, "wacz": wacz})
    assert list(page_images(capture, max_bytes=10_000_000)) == [
        (f"{base}/img/loaded.jpg", loaded, FROM_PAGE_LOAD),
        (f"{base}/img/og.jpg", og, NAMED_ONLY),
    ]


def test_a_fetched_image_the_page_only_links_to_or_failed_to_load_is_not_the_pages(
    tmp_path: Path, photos: dict[str, np.ndarray]
) -> None:
    """A link to the old picture ("removed, see old.jpg") does not show it, and a picture
    the browser got a 404 for was a broken image to a visitor, whatever copyseal's own
    fetch got; a malformed image URL elsewhere on the page changes nothing."""
    base = "http://127.0.0.1:8000"
    linked, broken, shown = _three_photos(photos)
    wacz = _wacz(
        _fetched(base, linked=linked, broken=broken, shown=shown),
        failed=(f"{base}/img/broken.jpg",),
    )
    dom = (
        '<html><head><meta property="og:image" content="/img/shown.jpg"></head><body>'
        '<p>Removed, see <a href="/img/linked.jpg">the old picture</a>.</p>'
        '<img src="/img/broken.jpg"><img src="http://127.0.0.1:99999/x.jpg"></body></html>'
    )
    capture = _capture(tmp_path, {"dom": dom, "wacz": wacz})
    assert list(page_images(capture, max_bytes=10_000_000)) == [
        (f"{base}/img/shown.jpg", shown, NAMED_ONLY)
    ]


def test_an_image_the_page_shows_is_preferred_to_the_one_it_only_names(
    workspace: Workspace, photo_files: dict[str, Path], photos: dict[str, np.ndarray]
) -> None:
    """The crawl first matched the page's og:image; the page now also shows the work as a
    thumbnail: the sighting is the thumbnail, so the visit does not say "only named"."""
    (record,) = register_paths(workspace, [photo_files["coffee"]])
    assert isinstance(record, WorkRecord)
    matcher = build_matcher(workspace.engine, workspace.settings, use_cache=False)
    og = photo_files["coffee"].read_bytes()
    thumb = _jpeg(np.asarray(Image.fromarray(photos["coffee"]).resize((360, 240))))
    shown = PageImage("https://s.example/a-300.jpg", thumb, FROM_PAGE_LOAD)
    announced = PageImage("https://s.example/a.jpg", og, NAMED_ONLY)
    for order in ([announced, shown], [shown, announced]):
        seen = find_work(matcher, record.work_id, iter(order), prefer=announced.url)
        assert seen is not None and (seen.image_url, seen.source) == (shown.url, FROM_PAGE_LOAD)
    seen = find_work(matcher, record.work_id, iter([announced]), prefer=announced.url)
    assert seen is not None and (seen.image_url, seen.source) == (announced.url, NAMED_ONLY)
