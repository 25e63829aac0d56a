"""What a re-visit's capture shows: the page's state and the work among its images.

The images are read back from the capture's own WARC (inside ``archive.wacz``): every
response the browser received with HTTP 200 whose bytes sniff as an image, in the order
received. So the work is looked for in exactly the bytes the sealed bundle keeps,
whatever the image is called now (renamed, re-encoded or moved on the page). A record
that copyseal fetched itself rather than the page (a target image the page did not load,
marked with the :data:`FETCHED_BY_COPYSEAL` WARC field) counts only while the page still
shows or announces that URL without loading it (an ``og:image``, a ``noscript`` image)
and the browser's own request for it did not fail. Images inlined as ``data:`` URIs have
no response: they are read from the captured DOM (else the served HTML), after the
WARC's, named as the crawl names them (``data:<type>;sha256=<hex>``).
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, NamedTuple

import numpy as np
import numpy.typing as npt

from copyseal.capture import Capture
from copyseal.errors import CopysealError
from copyseal.match.decode import sniff

if TYPE_CHECKING:
    from copyseal.match import DecodedImage, Match
    from copyseal.registry import WorkMatcher

#: The WARC field the capture writes on records fetched by copyseal, not by the page
#: (``copyseal.capture``'s WARC writer; see the capture's ``keep_images``).
FETCHED_BY_COPYSEAL = "WARC-Copyseal-Fetched-By"

__all__ = [
    "FETCHED_BY_COPYSEAL",
    "FROM_PAGE_LOAD",
    "INLINE",
    "NAMED_ONLY",
    "PageImage",
    "Sighting",
    "decode_bytes",
    "find_work",
    "page_images",
    "page_text",
]


#: Where an image of a re-visit's capture came from (``visit.json``'s
#: ``found_image_source``): a response the browser received while loading the page, a
#: ``data:`` URI in the page, or copyseal's own fetch of an image the page names but the
#: browser did not load (an ``og:image``, a ``noscript`` image).
FROM_PAGE_LOAD: Final = "page load"
INLINE: Final = "data: URI in the page"
NAMED_ONLY: Final = "named by the page, not loaded by the browser: fetched by copyseal"


class PageImage(NamedTuple):
    """One image of a capture: its URL, its bytes, and where it came from."""

    url: str
    data: bytes
    source: str = FROM_PAGE_LOAD


@dataclass(frozen=True, kw_only=True)
class Sighting:
    """The work found in one image of a capture."""

    image_url: str
    data: bytes
    image: DecodedImage
    #: 3 x 3 homography from work pixels to the image's pixels.
    matrix: npt.NDArray[np.float64]
    match: Match
    #: Where the image came from (:data:`FROM_PAGE_LOAD`, :data:`INLINE`, :data:`NAMED_ONLY`).
    source: str = FROM_PAGE_LOAD


def page_images(capture: Capture, *, max_bytes: int) -> Iterator[PageImage]:
    """Every image of the capture: each image response (HTTP 200) in its WARC, then each
    ``data:`` URI image of the page (at most ``max_bytes`` each).

    A response copyseal fetched itself is the page's only when the page still shows or
    announces that URL (an ``og:image``, a ``noscript`` image: the page's images as the
    crawl finds them, :func:`copyseal.crawl.extract_html`, in its DOM, else the served
    HTML; a plain link to the image is not showing it) and the browser's own request for
    it did not fail (a visitor saw a broken image).
    """
    from copyseal.crawl import extract_html

    html = _document(capture, "dom").strip() or _document(capture, "raw-html")
    refs = extract_html(html, capture.final_url or capture.url).images
    shown = [r.url for r in refs if set(r.kinds) - {"link"}]
    declared = {k for k in map(_key, shown) if k is not None}
    yield from _warc_images(capture, max_bytes=max_bytes, declared=declared)
    yield from _inline_images([u for u in shown if u.startswith("data:")], max_bytes=max_bytes)


def _key(url: str) -> str | None:
    """``url`` as the crawl keys URLs (w3lib's canonical form: the WARC names the URL the
    capture requested, the page may spell it with other escapes or a fragment); None for
    a ``data:`` URI or a URL w3lib refuses (a port out of range)."""
    from w3lib.url import canonicalize_url

    if url.startswith("data:"):
        return None
    try:
        return canonicalize_url(url, keep_fragments=False)
    except ValueError:
        return None


def _inline_images(uris: list[str], *, max_bytes: int) -> Iterator[PageImage]:
    """The images of ``data:`` URIs, each once, named as the crawl's image fetcher names
    them (``data:<type>;sha256=<hex>``)."""
    from w3lib.url import parse_data_uri

    seen: set[str] = set()
    for uri in uris:
        # base64 takes 4 characters for 3 bytes: a longer URI cannot fit in max_bytes, so
        # it is not decoded at all (1 KiB allows for the media type and parameters).
        if len(uri) > max_bytes * 4 // 3 + 1024:
            continue
        try:
            parsed = parse_data_uri(uri)
        except ValueError:
            continue  # the crawl skips a malformed data: URI too ("bad-data-uri")
        data = parsed.data
        if len(data) > max_bytes or sniff(data) is None:
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest not in seen:
            seen.add(digest)
            yield PageImage(f"data:{parsed.media_type};sha256={digest}", data, INLINE)


def _warc_images(capture: Capture, *, max_bytes: int, declared: set[str]) -> Iterator[PageImage]:
    from warcio.archiveiterator import ArchiveIterator

    member = capture.facts.get("wacz", {}).get("warc_member")
    try:
        wacz = zipfile.ZipFile(capture.path("wacz"))
    except (KeyError, OSError, zipfile.BadZipFile):
        return
    failed: set[str | None] = set()  # URLs the browser asked for and did not get
    with wacz:
        names = (
            [member]
            if member in wacz.namelist()
            else [n for n in wacz.namelist() if n.startswith("archive/")]
        )
        for name in names:
            with wacz.open(name) as raw:
                for record in ArchiveIterator(raw):
                    if record.rec_type != "response" or record.http_headers is None:
                        continue
                    uri = str(record.rec_headers.get_header("WARC-Target-URI"))
                    fetched = record.rec_headers.get_header(FETCHED_BY_COPYSEAL)
                    if record.http_headers.get_statuscode() != "200":
                        if not fetched:
                            failed.add(_key(uri))
                        continue
                    # The capture fetches a target after the page's load, so the
                    # browser's own answer for the same URL is already read here.
                    if fetched and (_key(uri) not in declared or _key(uri) in failed):
                        continue
                    data = record.content_stream().read(max_bytes + 1)
                    if len(data) > max_bytes or sniff(data) is None:
                        continue
                    yield PageImage(uri, data, NAMED_ONLY if fetched else FROM_PAGE_LOAD)


def find_work(
    matcher: WorkMatcher, work_id: str, images: Iterator[PageImage], *, prefer: str
) -> Sighting | None:
    """The first image showing ``work_id`` (the one at URL ``prefer`` if it does), one
    the page shows before one it only names (:data:`NAMED_ONLY`): a page that announces
    the picture as its ``og:image`` and also shows it is a page showing it.

    Images the matcher cannot decode are passed over: one bad image on a page says
    nothing about whether the work is there.
    """
    found: Sighting | None = None
    named: Sighting | None = None
    for url, data, source in images:
        try:
            image = matcher.decode(data, name=url)
            matches = [m for m in matcher.match_image(image) if m.work_id == work_id]
        except (CopysealError, OSError, ValueError):
            continue
        if not matches:
            continue
        best = matches[0]
        sighting = Sighting(
            image_url=url,
            data=data,
            image=image,
            matrix=np.asarray(best.transform.matrix, dtype=np.float64),
            match=best,
            source=source,
        )
        if source == NAMED_ONLY:
            if named is None or url == prefer:
                named = sighting
            continue
        if url == prefer:
            return sighting
        found = found or sighting
    return found or named


def page_text(capture: Capture) -> tuple[str, str]:
    """The served HTML (as text; the rendered DOM when it is missing) and the rendered
    DOM's visible text."""
    import lxml.html

    raw, dom = _document(capture, "raw-html"), _document(capture, "dom")
    try:
        text = " ".join(lxml.html.document_fromstring(dom).text_content().split()) if dom else ""
    except (ValueError, lxml.etree.ParserError):
        dom, text = "", ""
    return raw or dom, text


def _document(capture: Capture, role: str) -> str:
    """The capture's ``raw-html`` or ``dom`` file as text ("" when it has none)."""
    try:
        return capture.path(role).read_bytes().decode("utf-8", "replace")
    except (KeyError, OSError):
        return ""


def decode_bytes(matcher: WorkMatcher, data: bytes) -> DecodedImage | None:
    """``data`` decoded by the matcher, or None."""
    try:
        return matcher.decode(data)
    except (CopysealError, OSError, ValueError):
        return None
