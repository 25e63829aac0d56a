"""Scrolling for lazy images: every one loads, with several pages scrolled at once."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from copyseal.capture import BrowserSession, CaptureOptions
from copyseal.capture._recorder import NetworkRecorder
from copyseal.capture.page import _scroll
from copyseal.netpolicy import AddressPolicy

#: The test site is on loopback, which the capture browser refuses by default.
LOOPBACK = AddressPolicy(allow_private=True)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():  # pragma: no cover - the machine has it
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

IMAGES = 16
# A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
# Every other image is the browser's own loading=lazy; the rest are loaded by a script
# when an IntersectionObserver sees them (no root margin: only once in the viewport).
LOADER = """<script>
const io = new IntersectionObserver((entries) => {
  for (const e of entries) if (e.isIntersecting) { e.target.src = e.target.dataset.src;
                                                   io.unobserve(e.target); }
});
document.querySelectorAll('img[data-src]').forEach((el) => io.observe(el));
</script>"""

# A hostile page: no animation frame, no timer ever fires.
BREAK_TIMERS = b"<script>window.requestAnimationFrame = window.setTimeout = () => 0;</script>"


def _page(n: int) -> bytes:
    parts = []
    for k in range(IMAGES):
        parts.append(f'<div style="height:{500 + (k * 37) % 300}px">text {k}</div>')
        if k % 2:
            parts.append(f'<img loading="lazy" src="/img/{n}-{k}.png" width="90" height="40">')
        else:
            parts.append(f'<img data-src="/img/{n}-{k}.png" width="90" height="40">')
    return ("<!doctype html><body>" + "".join(parts) + LOADER + "</body>").encode()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/page/"):
            body, ctype = _page(int(self.path[6:])), "text/html"
        elif self.path.startswith("/broken/"):
            body, ctype = _page(int(self.path[8:])) + BREAK_TIMERS, "text/html"
        else:
            time.sleep(0.02)
            body, ctype = PNG, "image/png"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def _scroll_and_settle(
    session: BrowserSession, url: str, options: CaptureOptions
) -> tuple[set[str], dict[str, Any], bool]:
    context = await session.new_context(viewport=options.viewport)
    try:
        page = await context.new_page()
        recorder = NetworkRecorder(context, page)
        await recorder.attach()
        await page.goto(url, wait_until="load")
        facts = await _scroll(page, options)
        settled = await recorder.wait_idle(idle=options.idle_time, timeout=10)
        images = {e.url.rsplit("/", 1)[1] for e in recorder.entries if "/img/" in e.url}
        return images, facts, settled
    finally:
        await context.close()


def test_every_lazy_image_loads_with_pages_scrolled_at_once(site: str) -> None:
    options = CaptureOptions()
    pages = 6

    async def run() -> list[tuple[set[str], dict[str, Any], bool]]:
        async with BrowserSession(executable=CHROMIUM, policy=LOOPBACK) as session:
            return await asyncio.gather(
                *(_scroll_and_settle(session, f"{site}/page/{n}", options) for n in range(pages))
            )

    for n, (images, facts, settled) in enumerate(asyncio.run(run())):
        assert images == {f"{n}-{k}.png" for k in range(IMAGES)}
        assert settled
        assert facts["reached_bottom"] and facts["wheel_steps"] >= 10
        # (Under heavy load a step may wait its full second for frames: not asserted.)


def test_a_page_whose_timers_do_not_run_is_still_scrolled(site: str) -> None:
    async def run() -> tuple[set[str], dict[str, Any], bool]:
        async with BrowserSession(executable=CHROMIUM, policy=LOOPBACK) as session:
            return await _scroll_and_settle(session, f"{site}/broken/1", CaptureOptions())

    t0 = time.monotonic()
    images, facts, _settled = asyncio.run(run())
    assert time.monotonic() - t0 < 15
    assert facts["reached_bottom"]
    assert facts["pause_after_each_step"] == "0.05 s"
    assert facts["positions_without_frames"] == 1  # then fixed pauses
    # The browser's own lazy loading does not need the page's timers.
    assert {f"1-{k}.png" for k in range(1, IMAGES, 2)} <= images
