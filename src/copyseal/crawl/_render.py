"""Render mode: scroll like a visitor, let the network settle, ask the DOM what it shows.

Lazy images load when they scroll into view. ``page.mouse.wheel`` in steps loads them
reliably; ``window.scrollTo`` does not: with pages sharing a browser context at
concurrency 16, scrolling by script loaded the lazy images of 42-57 of 200 pages of a local
test site, the wheel of all 200 (measured on 2 cores with Debian's Chromium 156; a
full-page screenshot alone loads none). Then :data:`COLLECT_JS` runs in every frame: each ``img``'s
``currentSrc`` (what the browser chose), computed ``background-image`` of every element
and of its ``::before``/``::after``, SVG ``image``, ``video`` posters, and images inserted
by scripts, each with a CSS selector and its bounding box. The network log adds every
image response the browser received (and nothing it never fetched, which is why the
static extractor also runs on the rendered DOM).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from copyseal.crawl._extract import ImageRef
from copyseal.crawl._settle import wait_settled

__all__ = ["COLLECT_JS", "NetworkLog", "collect_rendered", "scroll_and_settle"]

log = logging.getLogger(__name__)

#: Returns ``[{url, kind, selector, bbox}]`` for every image the frame shows.
COLLECT_JS = r"""
() => {
  const out = [];
  const sel = (el) => {
    const parts = [];
    for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
      if (n.id && /^[A-Za-z][\w-]*$/.test(n.id)) { parts.unshift('#' + n.id); break; }
      let tag = n.localName, p = n.parentElement;
      if (!p) { parts.unshift(tag); break; }
      const same = Array.from(p.children).filter(c => c.localName === tag);
      parts.unshift(same.length > 1 ? `${tag}:nth-of-type(${same.indexOf(n) + 1})` : tag);
    }
    return parts.join(' > ');
  };
  const box = (el) => {
    const r = el.getBoundingClientRect();
    return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height];
  };
  const urls = (v) => {
    const found = [];
    if (!v || v === 'none') return found;
    const re = /url\(\s*(?:"([^"]*)"|'([^']*)'|([^)]*?))\s*\)/g;
    let m;
    while ((m = re.exec(v)) !== null) found.push(m[1] || m[2] || m[3]);
    return found;
  };
  const push = (url, kind, el) => {
    if (!url || url.startsWith('blob:')) return;
    out.push({url, kind, selector: sel(el), bbox: box(el)});
  };
  for (const img of document.images) push(img.currentSrc || img.src, 'rendered', img);
  for (const el of document.querySelectorAll('*')) {
    const cs = getComputedStyle(el);
    for (const u of urls(cs.backgroundImage)) push(u, 'css-computed', el);
    for (const u of urls(cs.listStyleImage)) push(u, 'css-computed', el);
    for (const u of urls(cs.borderImageSource)) push(u, 'css-computed', el);
    for (const pseudo of ['::before', '::after']) {
      const ps = getComputedStyle(el, pseudo);
      if (!ps || ps.content === 'none' && ps.backgroundImage === 'none') continue;
      for (const u of urls(ps.backgroundImage)) push(u, pseudo, el);
      for (const u of urls(ps.content)) push(u, pseudo, el);
    }
    if (el.localName === 'image') {
      const h = el.href && el.href.baseVal;
      if (h) push(new URL(h, document.baseURI).href, 'svg-image', el);
    } else if (el.localName === 'video' && el.poster) {
      push(el.poster, 'video-poster', el);
    }
  }
  return out;
}
"""


@dataclass
class NetworkLog:
    """The browser's image responses for one page, and its requests in flight.

    Its bound methods are the page's ``request``/``requestfinished``/``requestfailed``/
    ``response`` event handlers (``playwright_page_event_handlers``).
    """

    images: list[str] = field(default_factory=list)
    inflight: int = 0
    last_change: float = field(default_factory=time.monotonic)

    def handlers(self) -> dict[str, Any]:
        return {
            "request": self.on_request,
            "requestfinished": self.on_done,
            "requestfailed": self.on_done,
            "response": self.on_response,
        }

    def on_request(self, _request: Any) -> None:
        self.inflight += 1
        self.last_change = time.monotonic()

    def on_done(self, _request: Any) -> None:
        self.inflight = max(0, self.inflight - 1)
        self.last_change = time.monotonic()

    def on_response(self, response: Any) -> None:
        try:
            kind = response.request.resource_type
            ctype = (response.headers.get("content-type") or "").lower()
        except Exception:  # a response of a closed page
            return
        url = str(response.url)
        if (kind == "image" or ctype.startswith("image/")) and url.startswith("http"):
            self.images.append(url)

    async def wait_quiet(self, *, idle: float, timeout: float) -> bool:
        """Wait until no request has been in flight for ``idle`` seconds; False on timeout
        (a page that never stops loading is still collected)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.inflight == 0 and time.monotonic() - self.last_change >= idle:
                return True
            await asyncio.sleep(0.05)
        return False


async def scroll_and_settle(
    page: Any,
    net: NetworkLog,
    *,
    steps: int,
    settle: float,
    quiet: float = 0.3,
    timer_window: float = 0.0,
) -> bool:
    """Scroll to the bottom with the mouse wheel in viewport-sized steps, then wait for the
    page to settle (at most ``settle`` seconds). Returns False if it never settled.

    With ``timer_window`` > 0 the page's timers and image mutations count as activity too
    (:func:`copyseal.crawl._settle.wait_settled`: images inserted late); with 0, only the
    network (requests in flight, ``quiet`` seconds without one)."""
    size = page.viewport_size or {"width": 1280, "height": 720}
    await page.mouse.move(size["width"] / 2, size["height"] / 2)
    for _ in range(steps):
        await page.mouse.wheel(0, size["height"] * 0.8)
        await asyncio.sleep(0.05)
        at_bottom = await page.evaluate(
            "() => window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2"
        )
        if at_bottom:
            break
    if timer_window > 0:
        return await wait_settled(page, net, quiet=quiet, window=timer_window, cap=settle)
    return await net.wait_quiet(idle=quiet, timeout=settle)


async def collect_rendered(page: Any, net: NetworkLog) -> list[ImageRef]:
    """Images every frame of the page shows (with selector and box), then the network
    log's image responses."""
    refs: list[ImageRef] = []
    main = page.main_frame
    for frame in page.frames:
        try:
            found = await frame.evaluate(COLLECT_JS)
        except Exception as e:  # a detached or navigating frame
            log.debug("frame %s: %s", frame.url, e)
            continue
        frame_url = None if frame is main else frame.url
        for item in found:
            url = str(item["url"])
            if not url.startswith(("http://", "https://", "data:")):
                continue
            bbox = tuple(float(v) for v in item["bbox"])
            refs.append(
                ImageRef(
                    url=url.split("#", 1)[0],
                    kinds=(str(item["kind"]),),
                    selector=str(item["selector"]),
                    bbox=(bbox[0], bbox[1], bbox[2], bbox[3]),
                    frame=frame_url,
                )
            )
    refs.extend(ImageRef(url=u.split("#", 1)[0], kinds=("network",)) for u in net.images)
    return refs
