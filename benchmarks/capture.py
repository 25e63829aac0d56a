"""Capture benchmark: pages captured per second on a local generated site, and their size.

Run: ``.venv/bin/python benchmarks/capture.py [--pages 30] [--concurrency 1,2]``

A site of generated pages is served from 127.0.0.1 (threaded ``http.server``): each page
has three real photos (scikit-image, JPEG), a stylesheet with a background image, a lazy
image below the fold and a gzip-encoded document, like a small blog post. One Chromium
serves the whole run. Rows:

- baseline: fresh context, load, full-page PNG screenshot, nothing else;
- capture: :func:`copyseal.capture.capture_page` with one matched image per page: wheel
  scroll, bounded network settle, full-page and viewport PNGs, close-up, raw and rendered
  HTML, image bytes, WARC, WACZ, environment and network facts, capture.json;
- capture + seal: :func:`copyseal.pipeline.seal_page` in a real workspace (SQLite) whose
  works are the photos: the capture above, plus the overlay, the work's original and
  registration receipt, the canonical manifest, its signature, the ledger append and
  receipt, BagIt files, rename into place.

Then :func:`copyseal.bundle.verify_bundle` is timed on every sealed bundle.

Targets (issue 6): ≥ 1 page/s on 2 cores including screenshots, WARC, bundle and
anchoring; verifying one 5 MB bundle ≤ 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import http.server
import io
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from PIL import Image

from copyseal.capture import BrowserSession, Capture, CaptureOptions, Target, capture_page
from copyseal.netpolicy import AddressPolicy


def _photos() -> list[bytes]:
    import skimage.data as sk

    out = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "motorcycle"):
        pixels = sk.stereo_motorcycle()[0] if name == "motorcycle" else getattr(sk, name)()
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, "JPEG", quality=85)
        out.append(buf.getvalue())
    return out


PHOTOS = _photos()


def page_html(i: int) -> bytes:
    imgs = "".join(
        f"<p>Paragraph {k} of post {i}. " + "Lorem ipsum dolor sit amet. " * 20 + "</p>"
        f'<img src="/img/{(i + k) % len(PHOTOS)}.jpg" width="480" alt="photo {k}">'
        for k in range(3)
    )
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>Post {i}</title>"
        f'<link rel="stylesheet" href="/style.css?{i % 5}"></head><body>'
        f'<div class="hero"></div><h1>Post {i}</h1>{imgs}'
        f'<div style="height:1200px"></div>'
        f'<img loading="lazy" src="/img/{(i + 3) % len(PHOTOS)}.jpg?lazy" width="320">'
        f'<p><a href="/post/{i + 1}.html">next</a></p></body></html>'
    ).encode()


STYLE = b".hero{height:240px;background:url('/img/2.jpg') center/cover}body{font:16px serif}"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        headers: list[tuple[str, str]] = []
        if path.startswith("/post/"):
            body = gzip.compress(page_html(int(path[6:].split(".")[0])), compresslevel=6)
            ctype = "text/html; charset=utf-8"
            headers.append(("Content-Encoding", "gzip"))
        elif path == "/style.css":
            body, ctype = STYLE, "text/css"
        elif path.startswith("/img/"):
            body, ctype = PHOTOS[int(path[5:].split(".")[0]) % len(PHOTOS)], "image/jpeg"
        else:
            body, ctype = b"not found", "text/plain"
            self.send_response(404)
        if ctype != "text/plain":
            self.send_response(200)
        self.send_header("Content-Type", ctype)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


async def baseline(session: BrowserSession, urls: list[str], concurrency: int) -> float:
    sem = asyncio.Semaphore(concurrency)

    async def one(url: str) -> None:
        async with sem:
            ctx = await session.new_context(viewport=(1280, 800))
            try:
                page = await ctx.new_page()
                await page.goto(url, wait_until="load")
                await page.screenshot(type="png", full_page=True)
            finally:
                await ctx.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(one(u) for u in urls))
    return time.perf_counter() - t0


async def captures(
    session: BrowserSession, urls: list[str], concurrency: int, out: Path
) -> tuple[float, list[Capture]]:
    sem = asyncio.Semaphore(concurrency)
    results: list[Capture] = []
    options = CaptureOptions()

    async def one(n: int, url: str) -> None:
        async with sem:
            target = Target(url=url.rsplit("/post/", 1)[0] + f"/img/{n % len(PHOTOS)}.jpg")
            results.append(
                await capture_page(
                    url, out / f"c{n:04d}", session=session, targets=[target], options=options
                )
            )

    t0 = time.perf_counter()
    await asyncio.gather(*(one(n, u) for n, u in enumerate(urls)))
    return time.perf_counter() - t0, results


def make_workspace(root: Path) -> Any:
    """A real workspace whose works are the site's photos."""
    from copyseal.registry import register_paths
    from copyseal.workspace import Workspace, init_workspace

    ws = Workspace.open(init_workspace(root / "ws"))
    folder = root / "works"
    folder.mkdir()
    for k, data in enumerate(PHOTOS):
        (folder / f"{k}.jpg").write_bytes(data)
    records = list(register_paths(ws, [folder]))
    assert all(hasattr(r, "work_id") for r in records), records
    return ws, {int(Path(r.source_path).stem): r.work_id for r in records}  # type: ignore[union-attr]


async def seals(
    session: BrowserSession, urls: list[str], concurrency: int, ws: Any, works: dict[int, str]
) -> tuple[float, list[Any]]:
    from copyseal.pipeline import FoundImage, seal_page
    from copyseal.registry import build_matcher

    matcher = build_matcher(ws.engine, ws.settings)
    sem = asyncio.Semaphore(concurrency)
    results: list[Any] = []

    async def one(n: int, url: str) -> None:
        async with sem:
            k = n % len(PHOTOS)
            image_url = url.rsplit("/post/", 1)[0] + f"/img/{k}.jpg"
            found = FoundImage(image_url=image_url, work_id=works[k], report={"score": 1.0})
            results.append(
                await seal_page(ws, url=url, found=[found], session=session, matcher=matcher)
            )

    t0 = time.perf_counter()
    await asyncio.gather(*(one(n, u) for n, u in enumerate(urls)))
    return time.perf_counter() - t0, results


def time_verify(bundles: list[Any], vkey: str) -> list[float]:
    from copyseal.bundle import verify_bundle

    times = []
    for b in bundles:
        t0 = time.perf_counter()
        result = verify_bundle(b.path, vkey=vkey)
        times.append(time.perf_counter() - t0)
        assert result.ok, result.failures()
    return times


def _mb(n: float) -> str:
    return f"{n / 1e6:.2f} MB"


def folder_size(c: Capture) -> int:
    return sum(p.stat().st_size for p in c.folder.rglob("*") if p.is_file())


async def run(pages: int, levels: list[int]) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    urls = [f"{base}/post/{i}.html" for i in range(pages)]
    rows: list[dict[str, str]] = []
    phases: dict[str, list[float]] = {}
    verify_times: list[float] = []
    bundle_sizes: list[int] = []
    tmp = Path(tempfile.mkdtemp(prefix="copyseal-bench-"))
    try:
        # The benchmark site is on loopback, which the capture browser refuses by default.
        async with BrowserSession(policy=AddressPolicy(allow_private=True)) as session:
            await session.static_environment()  # hash the browser binary once, off the clock
            await baseline(session, urls[:2], 1)  # warm-up
            await captures(session, urls[:2], 1, tmp / "warm")
            for level in levels:
                secs = await baseline(session, urls, level)
                rows.append(
                    {
                        "mode": "baseline: load + full PNG",
                        "conc": str(level),
                        "pages": str(pages),
                        "seconds": f"{secs:.2f}",
                        "pages/s": f"{pages / secs:.2f}",
                        "avg size": "-",
                        "avg WACZ": "-",
                    }
                )
                secs, results = await captures(session, urls, level, tmp / f"c{level}")
                assert all(not r.errors for r in results), [r.errors for r in results if r.errors]
                for r in results:
                    for k, v in r.timings.items():
                        phases.setdefault(k, []).append(v)
                rows.append(
                    {
                        "mode": "capture_page (all artefacts)",
                        "conc": str(level),
                        "pages": str(pages),
                        "seconds": f"{secs:.2f}",
                        "pages/s": f"{pages / secs:.2f}",
                        "avg size": _mb(statistics.mean(folder_size(r) for r in results)),
                        "avg WACZ": _mb(statistics.mean(r.artefact("wacz").size for r in results)),
                    }
                )
                ws, works = make_workspace(tmp / f"s{level}")
                secs, outcomes = await seals(session, urls, level, ws, works)
                sealed = [o.bundle for o in outcomes if o.bundle is not None]
                assert len(sealed) == pages, [o.error for o in outcomes if o.error]
                sizes = [
                    sum(p.stat().st_size for p in b.path.rglob("*") if p.is_file()) for b in sealed
                ]
                rows.append(
                    {
                        "mode": "capture + seal (bundle, sign, anchor)",
                        "conc": str(level),
                        "pages": str(pages),
                        "seconds": f"{secs:.2f}",
                        "pages/s": f"{pages / secs:.2f}",
                        "avg size": _mb(statistics.mean(sizes)),
                        "avg WACZ": "-",
                    }
                )
                verify_times.extend(time_verify(sealed, ws.ledger().vkey()))
                bundle_sizes.extend(sizes)
                ws.close()
    finally:
        server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)

    head = list(rows[0])
    widths = [max(len(h), *(len(r[h]) for r in rows)) for h in head]
    print(" | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(r[h].rjust(w) for h, w in zip(head, widths, strict=True)))
    print()
    if verify_times:
        mean_ms = statistics.mean(verify_times) * 1000
        print(
            f"copyseal verify (offline, one bundle): mean {mean_ms:.0f} ms,"
            f" max {max(verify_times) * 1000:.0f} ms over {len(verify_times)} bundles of"
            f" {_mb(statistics.mean(bundle_sizes))} on average (largest {_mb(max(bundle_sizes))})"
        )
    print("median seconds per phase of one capture (all concurrency levels):")
    print(
        "  "
        + ", ".join(f"{k} {statistics.median(v):.3f}" for k, v in phases.items() if k != "total")
        + f"; total {statistics.median(phases['total']):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--concurrency", default="1,2", help="comma-separated levels")
    args = parser.parse_args()
    asyncio.run(run(args.pages, [int(x) for x in args.concurrency.split(",")]))


if __name__ == "__main__":
    main()
