"""Egress proxy benchmark: what the browsers' address-policy proxy costs.

Run: ``.venv/bin/python benchmarks/egress.py [--loads 12] [--quick]``

A site on 127.0.0.2 (allowed with ``allow_networks: [127.0.0.2/32]``) serves a page with
24 images (real photos, JPEG, 20-60 KB each) and a 4 MB file. Rows, measured in the same
run, each once directly (the baseline) and once through :class:`copyseal.netpolicy.
EgressProxy`:

- Chromium page load: a fresh context per load, ``goto(wait_until="load")`` of the page
  and its images (Playwright, Debian's Chromium), mean and p90 seconds;
- HTTP GET of the 4 MB file with ``urllib`` (a new connection each time), MB/s.

The proxy resolves each host once (pinned) and opens one upstream connection per
request; the browser-to-proxy hop is loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import io
import statistics
import threading
import time
import urllib.request
from typing import Any

from PIL import Image

from copyseal.capture.session import CHROMIUM_ARGS
from copyseal.netpolicy import AddressPolicy, EgressProxy

_IMAGES = 24


def _site() -> tuple[http.server.ThreadingHTTPServer, str]:
    import skimage.data as sk

    photos = []
    for i, name in enumerate(("astronaut", "coffee", "chelsea", "rocket") * (_IMAGES // 4)):
        img = Image.fromarray(getattr(sk, name)()).convert("RGB").resize((320 + i, 240))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=85)
        photos.append(buf.getvalue())
    big = bytes(range(256)) * (4 * 1024 * 1024 // 256)
    page = "<html><body>" + "".join(f"<img src='/i/{n}.jpg'>" for n in range(_IMAGES))
    page_bytes = (page + "</body></html>").encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.startswith("/i/"):
                body, ctype = photos[int(self.path[3:].split(".")[0])], "image/jpeg"
            elif self.path == "/big":
                body, ctype = big, "application/octet-stream"
            else:
                body, ctype = page_bytes, "text/html"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.2", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.2:{server.server_address[1]}"


async def _page_loads(base: str, loads: int, proxy: EgressProxy | None) -> list[float]:
    from playwright.async_api import async_playwright

    extra: dict[str, Any] = {}
    args = list(CHROMIUM_ARGS)
    if proxy is not None:
        args += proxy.chromium_args()
        extra["proxy"] = proxy.playwright_proxy()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=args, chromium_sandbox=False, **extra
        )
        times = []
        for i in range(loads + 1):
            context = await browser.new_context(service_workers="block")
            page = await context.new_page()
            t0 = time.perf_counter()
            await page.goto(f"{base}/?n={i}", wait_until="load")
            if i:  # the first load warms the browser up
                times.append(time.perf_counter() - t0)
            await context.close()
        await browser.close()
    return times


def _downloads(base: str, count: int, proxy: EgressProxy | None) -> float:
    handlers = [urllib.request.ProxyHandler({"http": proxy.url} if proxy else {})]
    opener = urllib.request.build_opener(*handlers)
    size = 0
    t0 = time.perf_counter()
    for _ in range(count):
        with opener.open(f"{base}/big", timeout=30) as r:
            size += len(r.read())
    return size / 1e6 / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=12, help="page loads per row")
    parser.add_argument("--quick", action="store_true", help="3 loads, 5 downloads")
    args = parser.parse_args()
    loads, downloads = (3, 5) if args.quick else (args.loads, 25)
    server, base = _site()
    policy = AddressPolicy.build(networks=["127.0.0.2/32"])
    rows = []
    try:
        with EgressProxy(policy=policy) as proxy:
            for name, via in (("direct (baseline)", None), ("egress proxy", proxy)):
                times = asyncio.run(_page_loads(base, loads, via))
                p90 = sorted(times)[max(0, int(len(times) * 0.9) - 1)]
                rate = _downloads(base, downloads, via)
                rows.append((name, statistics.mean(times), p90, rate))
            refused = len(proxy.refusals)
    finally:
        server.shutdown()
    print(f"page: {_IMAGES} images; {loads} loads per row; {downloads} x 4 MB downloads")
    print(f"{'route':<20}{'load mean s':>12}{'load p90 s':>12}{'GET MB/s':>10}")
    print("-" * 54)
    for name, mean, p90, rate in rows:
        print(f"{name:<20}{mean:>12.3f}{p90:>12.3f}{rate:>10.1f}")
    print(f"(requests the proxy refused meanwhile: {refused}, Chromium's background ones)")


if __name__ == "__main__":
    main()
