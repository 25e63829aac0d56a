"""Finding a matched image on the rendered page and photographing it, outlined.

An image is looked up in the main frame by URL: an ``<img>`` whose ``currentSrc`` (the
``srcset``/``<picture>`` candidate the browser chose) or ``src`` is that URL, or any
element whose computed ``background-image`` names it. Without a URL (or when it is not
found) a given box is used. The close-up is a PNG of the box plus a margin with a red
frame drawn just outside the box.

It is cut from the full-page screenshot (:func:`crop`) when the target sat in the same
place when that was taken: both are DevTools captures of the page laid out beyond the
viewport (``captureBeyondViewport``), so the pixels are the very ones of
``screenshots/full.png`` at the same coordinates, which anyone can check, and the frame
is drawn by copyseal rather than by the page's CSS. Otherwise (the page moved, or the
target lies below the end of the full-page screenshot) the browser photographs the
region with a temporary overlay drawing the frame (:func:`photograph`), removed after.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw
from playwright.async_api import CDPSession, Page

from copyseal.capture import _screenshot
from copyseal.capture.result import Box, Target

__all__ = [
    "CROP_METHOD",
    "OUTLINE_RGB",
    "OUTLINE_WIDTH",
    "OVERLAY_METHOD",
    "Located",
    "crop",
    "locate",
    "photograph",
]

# Decoding a larger screenshot costs more than letting the browser take the close-up
# (and would trip PIL's decompression-bomb warning from 89 Mpx).
_MAX_CROP_SOURCE = 40_000_000

CROP_METHOD = "cut from screenshots/full.png (same pixels), frame drawn by copyseal"
OVERLAY_METHOD = "DevTools screenshot of the region, frame drawn by a temporary overlay"

#: Colour and width (CSS px) of the frame drawn around a matched image.
OUTLINE_RGB = (255, 0, 0)
OUTLINE_WIDTH = 4
_OVERLAY_ID = "__copyseal_outline__"

_LOCATE_JS = """
(target) => {
  const abs = (u) => { try { return new URL(u, document.baseURI).href; } catch (e) { return u; } };
  const want = abs(target);
  const found = [];
  const describe = (el, how) => {
    const r = el.getBoundingClientRect();
    return {
      how, tag: el.tagName.toLowerCase(), id: el.id || null,
      classes: el.className && typeof el.className === 'string' ? el.className : null,
      src: el.currentSrc || el.getAttribute('src') || null,
      alt: el.getAttribute('alt'),
      natural: el.naturalWidth ? [el.naturalWidth, el.naturalHeight] : null,
      x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height,
    };
  };
  for (const img of document.images) {
    if (img.currentSrc && abs(img.currentSrc) === want) found.push(describe(img, 'currentSrc'));
    else if (img.src && abs(img.src) === want) found.push(describe(img, 'src'));
  }
  for (const el of document.querySelectorAll('*')) {
    const bg = getComputedStyle(el).backgroundImage;
    if (!bg || bg === 'none') continue;
    for (const m of bg.matchAll(/url\\(\\s*(['"]?)(.*?)\\1\\s*\\)/g)) {
      if (abs(m[2]) === want) { found.push(describe(el, 'background-image')); break; }
    }
  }
  found.sort((a, b) => (b.width * b.height > 0) - (a.width * a.height > 0));
  return found;
}
"""

_DOC_SIZE_JS = """() => [
  Math.max(document.documentElement.scrollWidth, document.body ? document.body.scrollWidth : 0),
  Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)
]"""

_OVERLAY_JS = """([id, x, y, w, h, color, width]) => {
  const d = document.createElement('div');
  d.id = id;
  Object.assign(d.style, {
    position: 'absolute', left: (x - width) + 'px', top: (y - width) + 'px',
    width: (w + 2 * width) + 'px', height: (h + 2 * width) + 'px',
    border: width + 'px solid ' + color, boxSizing: 'border-box',
    pointerEvents: 'none', zIndex: '2147483647', margin: '0', padding: '0',
    background: 'transparent',
  });
  document.documentElement.appendChild(d);
}"""


@dataclass(frozen=True, kw_only=True)
class Located:
    """Where a target was found (or why not)."""

    box: Box | None
    how: str | None
    element: dict[str, Any] | None
    candidates: int

    def to_json(self) -> dict[str, Any]:
        return {
            "box": None if self.box is None else self.box.to_json(),
            "found_by": self.how,
            "element": self.element,
            "candidates": self.candidates,
        }


async def locate(page: Page, target: Target) -> Located:
    """Find the target's element on the page; fall back to its box."""
    if target.url:
        found: list[dict[str, Any]] = await page.evaluate(_LOCATE_JS, target.url)
        usable = [f for f in found if f["width"] > 0 and f["height"] > 0]
        if usable:
            f = usable[0]
            box = Box(x=f["x"], y=f["y"], width=f["width"], height=f["height"])
            element = {k: f[k] for k in ("tag", "id", "classes", "src", "alt", "natural")}
            return Located(box=box, how=f["how"], element=element, candidates=len(found))
        if target.box is None:
            return Located(box=None, how=None, element=None, candidates=len(found))
    return Located(box=target.box, how="given box", element=None, candidates=0)


async def document_size(page: Page) -> tuple[int, int]:
    w, h = await page.evaluate(_DOC_SIZE_JS)
    return int(w), int(h)


async def photograph(
    page: Page, cdp: CDPSession | None, box: Box, *, margin: int, timeout: float
) -> tuple[bytes, Box]:
    """A PNG of ``box`` plus ``margin`` with the box outlined; returns it and the clip."""
    doc_w, doc_h = await document_size(page)
    x0 = max(0.0, box.x - margin)
    y0 = max(0.0, box.y - margin)
    x1 = min(float(max(doc_w, 1)), box.x + box.width + margin)
    y1 = min(float(max(doc_h, 1)), box.y + box.height + margin)
    clip = Box(x=x0, y=y0, width=max(1.0, x1 - x0), height=max(1.0, y1 - y0))
    color = "rgb({}, {}, {})".format(*OUTLINE_RGB)
    await page.evaluate(
        _OVERLAY_JS, [_OVERLAY_ID, box.x, box.y, box.width, box.height, color, OUTLINE_WIDTH]
    )
    try:
        png = await _screenshot.png(page, cdp, clip=clip, timeout=timeout)
    finally:
        await page.evaluate(f"() => document.getElementById('{_OVERLAY_ID}')?.remove()")
    return png, clip


def crop(full_png: bytes, page: Box, box: Box, *, margin: int) -> tuple[bytes, Box] | None:
    """The close-up of ``box`` cut from ``full_png``, the screenshot of ``page`` (the
    document from its top left, in CSS px at scale 1), with the frame drawn outside the
    box; and the clip, in whole pixels. None if the box is not inside the screenshot.
    """
    if box.x < 0 or box.y < 0 or box.x + box.width > page.width:
        return None
    if box.y + box.height > page.height or page.width * page.height > _MAX_CROP_SOURCE:
        return None
    left, top = math.floor(box.x), math.floor(box.y)
    right, bottom = math.ceil(box.x + box.width), math.ceil(box.y + box.height)
    x0, y0 = max(0, left - margin), max(0, top - margin)
    x1 = min(int(page.width), right + margin)
    y1 = min(int(page.height), bottom + margin)
    with Image.open(io.BytesIO(full_png)) as im:
        if im.size != (int(page.width), int(page.height)):
            return None
        region = im.crop((x0, y0, x1, y1))
    if region.mode not in ("RGB", "RGBA"):
        region = region.convert("RGB")
    # PIL draws a rectangle's outline inwards from its bounds: these bounds put the
    # OUTLINE_WIDTH px of the frame just outside the box, as the overlay's border does.
    w = OUTLINE_WIDTH
    frame = [left - w - x0, top - w - y0, right - 1 + w - x0, bottom - 1 + w - y0]
    ink = OUTLINE_RGB if region.mode == "RGB" else (*OUTLINE_RGB, 255)
    ImageDraw.Draw(region).rectangle(frame, outline=ink, width=w)
    out = io.BytesIO()
    region.save(out, "PNG", compress_level=1)  # lossless; fast, like the screenshots
    return out.getvalue(), Box(x=x0, y=y0, width=x1 - x0, height=y1 - y0)
