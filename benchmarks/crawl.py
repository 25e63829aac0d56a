"""Crawl throughput on a generated local site: bare Scrapy vs copyseal static vs render.

    .venv/bin/python benchmarks/crawl.py [--pages 200] [--no-render]

One run serves a generated site on 127.0.0.1 (``--pages`` pages, each with three
distinct photos of 320 px and links to the next pages), then crawls it three ways, each
in its own process (a reactor runs once per process):

* **bare** — the baseline: a plain Scrapy spider that only fetches the same pages and
  images (no extraction, matching, database);
* **static** — ``copyseal crawl URL`` in an empty workspace (every image is fetched,
  sniffed, decoded under the matcher's limits and stored; no works, so no matching cost);
* **render** — ``copyseal crawl URL --render`` (Chromium, wheel scroll, network settle).

Prints pages/s, images/s and the peak RSS of the largest process of each run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image

_BARE = r"""
import sys, scrapy
from scrapy.crawler import AsyncCrawlerProcess

class Bare(scrapy.Spider):
    name = "bare"
    async def start(self):
        yield scrapy.Request(sys.argv[1])
    def parse(self, response):
        for src in response.css("img::attr(src)").getall():
            yield response.follow(src, callback=self.image)
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href)
    def image(self, response):
        self.crawler.stats.inc_value("bare/images")

p = AsyncCrawlerProcess({"LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": False,
                         "CONCURRENT_REQUESTS": 16, "CONCURRENT_REQUESTS_PER_DOMAIN": 16})
c = p.create_crawler(Bare)
p.crawl(c)
p.start()
s = c.stats.get_stats()
print(s.get("bare/images", 0), s.get("response_received_count", 0))
"""


def make_site(pages: int) -> dict[str, tuple[str, bytes]]:
    rng = np.random.default_rng(0)
    files: dict[str, tuple[str, bytes]] = {}
    for i in range(pages):
        imgs = []
        for j in range(3):
            pixels = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
            buf = io.BytesIO()
            Image.fromarray(pixels).resize((320, 240)).save(buf, format="JPEG", quality=80)
            files[f"/img/{i}-{j}.jpg"] = ("image/jpeg", buf.getvalue())
            imgs.append(f'<img src="/img/{i}-{j}.jpg" loading="lazy">')
        links = "".join(f'<a href="/p/{k}.html">{k}</a> ' for k in range(i + 1, min(pages, i + 4)))
        body = (
            f"<html><head><title>Page {i}</title></head><body><p>{'Text. ' * 80}</p>"
            f"{''.join(imgs)}<div style='height:1500px'></div>{links}</body></html>"
        )
        files[f"/p/{i}.html"] = ("text/html", body.encode())
    return files


def serve(files: dict[str, tuple[str, bytes]]) -> tuple[str, ThreadingHTTPServer]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            ctype, body = files.get(self.path, ("text/html", b"not found"))
            self.send_response(200 if self.path in files else 404)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str, float]:
    start = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed:\n{r.stderr[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return elapsed, r.stdout, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--no-render", action="store_true")
    args = parser.parse_args()
    base, server = serve(make_site(args.pages))
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        elapsed, out, peak = timed([sys.executable, "-c", _BARE, base + "/p/0.html"], env)
        images, responses = (int(x) for x in out.split())
        pages = responses - images
        rows.append(("bare scrapy (baseline)", pages, images, elapsed, peak))
        modes = ["static"] + ([] if args.no_render else ["render"])
        for mode in modes:
            ws = Path(tmp) / mode
            subprocess.run(
                [sys.executable, "-m", "copyseal", "init", str(ws)],
                check=True,
                capture_output=True,
                env=env,
            )
            cmd = [
                sys.executable,
                "-m",
                "copyseal",
                "--config",
                str(ws / "config.yaml"),
                "--set",
                "crawl.autothrottle=false",
                "--set",
                "crawl.per_domain_concurrency=16",
                "--set",
                f"crawl.max_pages={args.pages}",
                "--set",
                "crawl.max_depth=1000",
                "crawl",
                base + "/p/0.html",
                "--allow-private",
                "--json",
                "--no-progress",
                "--render" if mode == "render" else "--no-render",
            ]
            elapsed, out, peak = timed(cmd, env)
            result = json.loads(out)
            rows.append((f"copyseal {mode}", result["pages"], result["images"], elapsed, peak))
    server.shutdown()
    print(
        f"{'crawl':<24}{'pages':>7}{'images':>8}{'seconds':>9}{'pages/s':>9}"
        f"{'images/s':>10}{'peak MB':>9}"
    )
    for name, pages, images, elapsed, peak in rows:
        print(
            f"{name:<24}{pages:>7}{images:>8}{elapsed:>9.1f}{pages / elapsed:>9.1f}"
            f"{images / elapsed:>10.1f}{peak:>9.0f}"
        )
    bare = rows[0][1] / rows[0][3]
    static = rows[1][1] / rows[1][3]
    print(f"\ncopyseal static / bare scrapy = {static / bare:.2f} (target >= 0.5)")


if __name__ == "__main__":
    main()
