"""Every way a static HTML page can show an image, and the links it leads to.

What a visitor would see is found three ways: here from the HTML (this module, used in
both modes: on the served HTML in static mode, on the rendered DOM in render mode), by a
script run in the browser (:mod:`copyseal.crawl._render`), and from the browser's network
log. The HTML alone finds what the browser never fetches: ``og:image``, ``noscript``
images, unchosen ``srcset`` candidates and ``picture`` fallbacks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html

from copyseal import _json
from copyseal.crawl._css import (
    SrcsetCandidate,
    css_image_urls,
    css_imports,
    largest_candidate,
    parse_srcset,
)

__all__ = [
    "LAZY_ATTRIBUTES",
    "ImageRef",
    "PageExtract",
    "extract_html",
    "merge_refs",
    "refs_from_css",
]

#: Attributes lazy-loading libraries keep the real image in (lazysizes, lozad, jQuery
#: lazyload, WordPress, Shopify themes, ...). Values ending in ``srcset`` are srcsets.
LAZY_ATTRIBUTES = (
    "data-src",
    "data-srcset",
    "data-original",
    "data-original-src",
    "data-lazy",
    "data-lazy-src",
    "data-lazy-srcset",
    "data-hi-res-src",
    "data-full-src",
    "data-large-src",
    "data-large_image",
    "data-zoom-image",
    "data-orig-file",
    "data-large-file",
    "data-image",
    "data-img",
    "data-echo",
    "data-bg",
    "data-bg-src",
    "data-background",
    "data-background-image",
)

_IMAGE_SUFFIX = re.compile(r"\.(?:jpe?g|png|gif|webp|avif|heic|heif|bmp|tiff?)$", re.I)
_META_IMAGE = {
    "og:image": "og:image",
    "og:image:url": "og:image",
    "og:image:secure_url": "og:image",
    "twitter:image": "twitter:image",
    "twitter:image:src": "twitter:image",
}
_JSONLD_KEYS = ("image", "thumbnailUrl", "contentUrl", "logo", "photo", "primaryImageOfPage")


@dataclass(frozen=True, kw_only=True)
class ImageRef:
    """An image shown (or announced) by a page, and where it sits.

    Attributes:
        url: Absolute ``http(s)`` URL or a ``data:`` URI.
        kinds: How the page shows it (``img``, ``srcset``, ``picture``, ``lazy``,
            ``style-attr``, ``style-tag``, ``stylesheet``, ``og:image``, ``twitter:image``,
            ``json-ld``, ``noscript``, ``svg-image``, ``video-poster``, ``link``,
            ``rendered``, ``css-computed``, ``::before``, ``::after``, ``network``, ...).
        selector: A CSS selector of the element showing it (None: not an element).
        bbox: ``(x, y, width, height)`` in CSS pixels of the document (render mode).
        frame: URL of the frame the element is in, when not the top document.
    """

    url: str
    kinds: tuple[str, ...]
    selector: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    frame: str | None = None

    def location(self) -> dict[str, Any]:
        """The JSON stored with a match (where on the page the image was)."""
        return {
            "kinds": list(self.kinds),
            "selector": self.selector,
            "bbox": list(self.bbox) if self.bbox else None,
            "frame": self.frame,
        }


@dataclass(frozen=True, kw_only=True)
class PageExtract:
    """What a page's HTML holds: images, links to follow, frames and stylesheets."""

    images: tuple[ImageRef, ...] = ()
    links: tuple[str, ...] = ()
    next_pages: tuple[str, ...] = ()
    iframes: tuple[str, ...] = ()
    stylesheets: tuple[str, ...] = ()
    title: str = ""
    text: str = field(default="", repr=False)


def _absolute(base: str, raw: str | None) -> str | None:
    if raw is None:
        return None
    raw = raw.strip()
    if not raw or raw.startswith("#"):
        return None
    if raw[:5].lower() == "data:":
        return raw
    try:
        url = urljoin(base, raw)
        # urlsplit refuses a malformed bracketed host ("x://[", "Invalid IPv6 URL"), which
        # urljoin passes through when the scheme differs from the base's.
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    if scheme not in ("http", "https"):
        return None
    return url.split("#", 1)[0]


def _image_path(url: str) -> bool:
    """Whether a URL's path ends in an image file extension (False if it does not parse)."""
    try:
        return bool(_IMAGE_SUFFIX.search(urlsplit(url).path))
    except ValueError:  # a malformed bracketed host: "Invalid IPv6 URL"
        return False


def _number_children(parent: Any, positions: dict[Any, tuple[int, bool]]) -> None:
    """Each element child's ``nth-of-type`` position and whether it is its tag's only one."""
    by_tag: dict[str, list[Any]] = {}
    for c in parent:
        if isinstance(c.tag, str):
            by_tag.setdefault(c.tag.lower(), []).append(c)
    for same in by_tag.values():
        for i, c in enumerate(same):
            positions[c] = (i + 1, len(same) == 1)


def _selector(el: Any, positions: dict[Any, tuple[int, bool]] | None = None) -> str:
    """A CSS selector (``#id`` anchored when possible, else ``nth-of-type`` steps).

    ``positions`` keeps the children numbered per parent across calls on one document
    (:func:`_number_children`): numbering each element's siblings again made the
    selectors of a page quadratic in its widest list (45 ms for 120 products).
    Holding the elements also keeps lxml's proxy objects, so they stay valid keys.
    """
    parts: list[str] = []
    node = el
    while node is not None and isinstance(node.tag, str):
        ident = node.get("id")
        if ident and re.fullmatch(r"[A-Za-z][\w-]*", ident):
            parts.append(f"#{ident}")
            break
        parent = node.getparent()
        tag = node.tag.lower()
        if parent is None or not isinstance(parent.tag, str):
            parts.append(tag)
            break
        if positions is None:
            positions = {}
        if node not in positions:
            _number_children(parent, positions)
        position, alone = positions[node]
        parts.append(tag if alone else f"{tag}:nth-of-type({position})")
        node = parent
    return " > ".join(reversed(parts))


def _in_noscript(el: Any) -> bool:
    return any(a.tag == "noscript" for a in el.iterancestors() if isinstance(a.tag, str))


def _srcset_url(value: str | None, extra_src: str | None = None) -> str | None:
    candidates = parse_srcset(value or "")
    if extra_src:
        candidates.append(SrcsetCandidate(url=extra_src, density=1.0))
    best = largest_candidate(candidates)
    return best.url if best else None


def refs_from_css(
    css: str, base_url: str, *, kind: str, selector: str | None = None
) -> list[ImageRef]:
    """Image references in a piece of CSS, resolved against ``base_url``."""
    out = []
    for raw in css_image_urls(css):
        url = _absolute(base_url, raw)
        if url:
            out.append(ImageRef(url=url, kinds=(kind,), selector=selector))
    return out


def _jsonld_urls(node: Any, key: str | None = None) -> Iterator[str]:
    if isinstance(node, str):
        if key in _JSONLD_KEYS:
            yield node
    elif isinstance(node, list):
        for item in node:
            yield from _jsonld_urls(item, key)
    elif isinstance(node, dict):
        if key in _JSONLD_KEYS:
            for k in ("url", "contentUrl"):
                if isinstance(node.get(k), str):
                    yield node[k]
        for k, v in node.items():
            if k in _JSONLD_KEYS or isinstance(v, dict | list):
                yield from _jsonld_urls(v, k if k in _JSONLD_KEYS else None)


def _element_refs(
    el: Any, base: str, positions: dict[Any, tuple[int, bool]] | None = None
) -> Iterator[ImageRef]:
    tag = el.tag.lower()
    # The selector and the noscript test walk the element's ancestors: computed only
    # for an element that holds a reference, not for every element of the page.
    place: list[tuple[str, bool]] = []

    def where() -> tuple[str, bool]:
        if not place:
            place.append((_selector(el, positions), _in_noscript(el)))
        return place[0]

    def ref(raw: str | None, kind: str) -> ImageRef | None:
        url = _absolute(base, raw)
        if url is None:
            return None
        sel, noscript = where()
        kinds = (kind, "noscript") if noscript else (kind,)
        return ImageRef(url=url, kinds=kinds, selector=sel)

    found: list[ImageRef | None] = []
    if tag == "img":
        if el.get("srcset"):
            found.append(ref(_srcset_url(el.get("srcset"), el.get("src")), "srcset"))
        else:
            found.append(ref(el.get("src"), "img"))
    elif tag == "source" and el.getparent() is not None and el.getparent().tag == "picture":
        found.append(ref(_srcset_url(el.get("srcset")), "picture"))
    elif tag == "image":  # SVG <image href> / xlink:href
        href = el.get("href") or el.get("{http://www.w3.org/1999/xlink}href")
        found.append(ref(href or el.get("xlink:href"), "svg-image"))
    elif tag == "video":
        found.append(ref(el.get("poster"), "video-poster"))
    elif tag == "input" and (el.get("type") or "").lower() == "image":
        found.append(ref(el.get("src"), "input-image"))
    elif tag == "a":
        href = el.get("href") or ""
        if _image_path(href):
            found.append(ref(href, "link"))
    for attr in LAZY_ATTRIBUTES:
        value = el.get(attr)
        if not value:
            continue
        if attr.endswith("srcset"):
            found.append(ref(_srcset_url(value), "lazy"))
        elif "url(" in value:
            found.extend(
                ImageRef(url=r.url, kinds=("lazy",), selector=where()[0])
                for r in refs_from_css(value, base, kind="lazy")
            )
        else:
            found.append(ref(value, "lazy"))
    style = el.get("style")
    if style:
        found.extend(
            ImageRef(url=r.url, kinds=("style-attr",), selector=where()[0])
            for r in refs_from_css(style, base, kind="style-attr")
        )
    yield from (r for r in found if r is not None)


def extract_html(html: str, url: str) -> PageExtract:
    """Find every image a page's HTML shows or announces, its links, frames and sheets.

    Args:
        html: The page's HTML (served, or the rendered DOM's serialisation).
        url: The page's URL (relative URLs resolve against it, or against ``<base>``).
    """
    if not html.strip():
        return PageExtract()
    try:
        root = lxml_html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return PageExtract()
    base = url
    for b in root.iter("base"):
        href = _absolute(url, b.get("href"))
        if href and not href.startswith("data:"):
            base = href
            break
    images: list[ImageRef] = []
    links: list[str] = []
    next_pages: list[str] = []
    iframes: list[str] = []
    sheets: list[str] = []
    positions: dict[Any, tuple[int, bool]] = {}
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        tag = el.tag.lower()
        images.extend(_element_refs(el, base, positions))
        if tag == "noscript" and len(el) == 0 and el.text and "<" in el.text:
            # Parsers that keep noscript as text: parse its content as a fragment.
            inner = extract_html(f"<html><body>{el.text}</body></html>", base)
            images.extend(
                ImageRef(url=r.url, kinds=(*r.kinds, "noscript"), selector=_selector(el))
                for r in inner.images
            )
        elif tag == "meta":
            key = (el.get("property") or el.get("name") or "").strip().lower()
            kind = _META_IMAGE.get(key) or ("meta-image" if el.get("itemprop") == "image" else None)
            target = _absolute(base, el.get("content"))
            if kind and target:
                images.append(ImageRef(url=target, kinds=(kind,), selector=_selector(el)))
        elif tag == "link":
            rel = (el.get("rel") or "").lower().split()
            target = _absolute(base, el.get("href"))
            if target is None:
                continue
            if "stylesheet" in rel:
                sheets.append(target)
            elif "image_src" in rel:
                images.append(ImageRef(url=target, kinds=("link-image",), selector=_selector(el)))
            elif "next" in rel:
                next_pages.append(target)
        elif tag == "style" and el.text:
            images.extend(
                ImageRef(url=r.url, kinds=("style-tag",), selector=_selector(el))
                for r in refs_from_css(el.text, base, kind="style-tag")
            )
            sheets.extend(u for u in (_absolute(base, i) for i in css_imports(el.text)) if u)
        elif tag == "script" and (el.get("type") or "").lower() == "application/ld+json":
            try:
                data = _json.loads(el.text or "")
            except ValueError:
                continue
            for raw in _jsonld_urls(data):
                target = _absolute(base, raw)
                if target:
                    images.append(ImageRef(url=target, kinds=("json-ld",), selector=_selector(el)))
        elif tag in ("iframe", "frame"):
            target = _absolute(base, el.get("src"))
            if target and not target.startswith("data:"):
                iframes.append(target)
        elif tag in ("a", "area"):
            target = _absolute(base, el.get("href"))
            if target and not target.startswith("data:") and not _image_path(target):
                rel = (el.get("rel") or "").lower().split()
                (next_pages if "next" in rel else links).append(target)
    title = (root.findtext(".//title") or "").strip()
    body = root.find("body")
    text = " ".join(body.text_content().split()) if body is not None else ""
    return PageExtract(
        images=tuple(merge_refs(images)),
        links=tuple(dict.fromkeys(links)),
        next_pages=tuple(dict.fromkeys(next_pages)),
        iframes=tuple(dict.fromkeys(iframes)),
        stylesheets=tuple(dict.fromkeys(sheets)),
        title=title,
        text=text,
    )


def merge_refs(refs: Iterable[ImageRef]) -> list[ImageRef]:
    """Deduplicate by URL, in first-seen order: kinds are united, and the first known
    selector, bounding box and frame are kept."""
    merged: dict[str, ImageRef] = {}
    for r in refs:
        old = merged.get(r.url)
        if old is None:
            merged[r.url] = r
            continue
        best, other = (old, r) if (old.bbox or not r.bbox) else (r, old)
        merged[r.url] = ImageRef(
            url=r.url,
            kinds=tuple(dict.fromkeys((*old.kinds, *r.kinds))),
            selector=best.selector or other.selector,
            bbox=best.bbox,
            frame=best.frame if best.selector else other.frame,
        )
    return list(merged.values())
