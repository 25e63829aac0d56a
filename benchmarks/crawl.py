"""Crawl throughput and memory on a generated local site: bare Scrapy vs copyseal.

    .venv/bin/python benchmarks/crawl.py [--pages 500] [--render-pages N] [--no-render]
                                         [--growth-pages 10000] [--growth-works 100]
                                         [--only-growth] [--works 100,10000]
                                         [--works-pages 300] [--match-workers N]
                                         [--only-works] [--distributed 1,2,4]
                                         [--distributed-pages 300] [--only-distributed]

One run serves a generated site from memory on 127.0.0.1 and crawls it, each crawl in
its own process (a reactor runs once per process):

* **bare** — the baseline: a plain Scrapy spider that only fetches the same pages and
  images (no extraction, matching, database), on the ``--pages`` site (each page has
  three distinct 320 px photos and links to eight more pages, a tree like a shop's
  listings);
* **static** — ``copyseal crawl URL --no-capture`` in an empty workspace (every image is
  fetched, sniffed, decoded under the matcher's limits, looked up by SHA-256 and stored;
  no works are indexed, so the crawler skips the perceptual step — with works indexed,
  each distinct image costs the matcher ~30 ms on its one thread, which then bounds the
  crawl; no sealing, which would measure capture instead of crawling);
* **render** — the same with ``--render`` (Chromium, wheel scroll, network settle), on
  the first ``--render-pages`` pages;
* **growth** — a static crawl of ``--growth-pages`` generated pages (made on request,
  each image's bytes unique), reporting the peak memory reached by 1k, 5k and 10k pages:
  memory must not grow with the crawl; with ``--growth-works N`` the workspace has N works
  registered (``_crawl_works``' catalogue), so every image also goes through the match
  processes.

* **works** — a site of real photos, ~5 % of them edited copies of registered works,
  crawled bare and by copyseal with 0, 100 and 10,000 works (``benchmarks/_crawl_works.py``
  says how), with the copies found, the false matches and the match stage's CPU ms per
  image measured apart.

* **distributed** — ``copyseal crawl URL --distributed`` crawled by 1, 2 and 4
  ``copyseal worker`` processes on this machine (PostgreSQL and Redis), on a
  ``--distributed-pages`` site, from enqueue to ``finished`` (``benchmarks/
  _crawl_distributed.py`` says how).

Memory is the **whole process tree**: the sum of the resident set (RSS, from
``/proc/PID/status``) of the crawl process and all its descendants (Chromium's
processes included), sampled every 0.1 s; the peak is the largest sum. Summed RSS
counts pages shared between processes (Chromium's) more than once, so it is an upper
bound. The rows with works also give the peak of the summed proportional set size (PSS,
``/proc/PID/smaps_rollup``), which counts a shared page once: the match processes map
one cached index file. Linux only.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
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

_MB = 1024 * 1024


def _jpeg(rng: np.random.Generator) -> bytes:
    pixels = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).resize((320, 240)).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def _page(prefix: str, i: int, pages: int) -> bytes:
    imgs = "".join(f'<img src="{prefix}img/{i}-{j}.jpg" loading="lazy">' for j in range(3))
    # A tree of fan-out 8 (like listing pages): enough pages are known at any time to
    # keep every connection busy (a chain would measure latency, not throughput).
    links = "".join(
        f'<a href="{prefix}p/{k}.html">{k}</a> ' for k in range(8 * i + 1, min(pages, 8 * i + 9))
    )
    # Zero-padded: a title "Page 404" is (rightly) a soft-404 to copyseal, which would then
    # skip that page's images and its eight children that bare Scrapy fetches.
    return (
        f"<html><head><title>Page {i:06d}</title></head><body><p>{'Text. ' * 80}</p>"
        f"{imgs}<div style='height:1500px'></div>{links}</body></html>"
    ).encode()


class Site:
    """A fixed site of ``pages`` pages (``/p/N.html``, images stored) and a generated one
    of ``growth`` pages (``/g/p/N.html``, made on request: images are a pool's bytes with
    a unique trailer after the JPEG's end, so every image is distinct)."""

    def __init__(self, pages: int, growth: int) -> None:
        rng = np.random.default_rng(0)
        self.pages = pages
        self.growth = growth
        self.files: dict[str, tuple[str, bytes]] = {}
        for i in range(pages):
            self.files[f"/p/{i}.html"] = ("text/html", _page("/", i, pages))
            for j in range(3):
                self.files[f"/img/{i}-{j}.jpg"] = ("image/jpeg", _jpeg(rng))
        self.pool = [_jpeg(rng) for _ in range(64)]
        self.growth_pages_served = 0
        self.lock = threading.Lock()

    def get(self, path: str) -> tuple[str, bytes] | None:
        if not path.startswith("/g/"):
            return self.files.get(path)
        name = path[3:]
        if name.startswith("p/") and name.endswith(".html"):
            i = int(name[2:-5])
            if i >= self.growth:
                return None
            with self.lock:
                self.growth_pages_served += 1
            return "text/html", _page("/g/", i, self.growth)
        if name.startswith("img/") and name.endswith(".jpg"):
            i, j = (int(x) for x in name[4:-4].split("-"))
            return "image/jpeg", self.pool[(i * 3 + j) % len(self.pool)] + f"#{i}-{j}".encode()
        return None


def serve(site: Site) -> tuple[str, ThreadingHTTPServer]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            found = site.get(self.path)
            ctype, body = found or ("text/html", b"not found")
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


# -- process-tree memory -------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_rss(pid: int, *, field: str = "VmRSS:", source: str = "status") -> int:
    """Bytes resident in ``pid`` and all its descendants (sum of VmRSS)."""
    tree = _children()
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        todo.extend(tree.get(p, ()))
        try:
            for line in Path(f"/proc/{p}/{source}").read_text().splitlines():
                if line.startswith(field):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
    return total


def tree_pss(pid: int) -> int:
    """Proportional set size of ``pid`` and its descendants: a page shared by n processes
    (a match index mapped from one file, Chromium's libraries) counts 1/n in each, so the
    sum counts it once."""
    return tree_rss(pid, field="Pss:", source="smaps_rollup")


def measured(
    cmd: list[str],
    env: dict[str, str],
    *,
    progress: Callable[[], int] | None = None,
    marks: tuple[int, ...] = (),
    pss: bool = False,
) -> tuple[float, str, int, dict[int, int]]:
    """Run ``cmd``; returns seconds, stdout, peak tree RSS, and the peak reached by the
    time ``progress()`` passed each mark. With ``pss``, the peak tree PSS is ``at[0]``."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, text=True, env=env)
        peak = 0
        at: dict[int, int] = {}
        errors: list[str] = []
        reader = threading.Thread(target=lambda: errors.extend(proc.stderr or ()), daemon=True)
        reader.start()
        while proc.poll() is None:
            peak = max(peak, tree_rss(proc.pid))
            if pss:
                at[0] = max(at.get(0, 0), tree_pss(proc.pid))
            if progress is not None:
                done = progress()
                for m in marks:
                    if m not in at and done >= m:
                        at[m] = peak
            time.sleep(0.1)
        elapsed = time.perf_counter() - start
        reader.join()
        if proc.returncode != 0:
            raise SystemExit(f"{cmd[:6]} failed:\n{''.join(errors)[-3000:]}")
        out.seek(0)
        return elapsed, out.read(), peak, at


def copyseal_crawl(
    tmp: Path, name: str, url: str, env: dict[str, str], *, pages: int, render: bool
) -> list[str]:
    ws = tmp / name
    subprocess.run(
        [sys.executable, "-m", "copyseal", "init", str(ws)],
        check=True,
        capture_output=True,
        env=env,
    )
    return [
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
        f"crawl.max_pages={pages}",
        "--set",
        "crawl.max_depth=100000",
        "crawl",
        url,
        "--allow-private",
        "--no-capture",
        "--json",
        "--no-progress",
        "--render" if render else "--no-render",
    ]


def works_rows(args: argparse.Namespace, env: dict[str, str]) -> None:
    """The rows with works registered: bare, empty, 100 and 10,000 works, one photo site."""
    import _crawl_works

    with tempfile.TemporaryDirectory() as tmp_name:
        _crawl_works.run_rows(args, env, Path(tmp_name), serve, measured, copyseal_crawl, _BARE)


def distributed_rows(args: argparse.Namespace, env: dict[str, str]) -> None:
    """The rows with 1, 2 and 4 ``copyseal worker`` processes on the same site."""
    import _crawl_distributed

    with tempfile.TemporaryDirectory() as tmp_name:
        site = Site(args.distributed_pages, 0)
        _crawl_distributed.run_rows(
            args,
            env,
            Path(tmp_name),
            site,
            serve,
            measured,
            tree_rss,
            _children,
            copyseal_crawl,
            _BARE,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--render-pages", type=int, default=None, help="default: --pages")
    parser.add_argument("--no-render", action="store_true")
    parser.add_argument("--growth-pages", type=int, default=10_000, help="0: skip")
    parser.add_argument(
        "--growth-works", type=int, default=0, help="works registered for the growth crawl"
    )
    parser.add_argument("--only-growth", action="store_true", help="only the growth row")
    # Rows with works registered (benchmarks/_crawl_works.py): a real-photo site.
    parser.add_argument("--works", default="100,10000", help="catalogue sizes; '' skips")
    parser.add_argument("--works-pages", type=int, default=300)
    parser.add_argument("--match-workers", type=int, default=None, help="match.workers")
    parser.add_argument(
        "--engine",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a match.engine setting of the workspaces with works (repeatable), e.g. "
        "mirror_pass=false: what a setting that trades recall for speed gives a crawl",
    )
    parser.add_argument("--only-works", action="store_true", help="only the rows with works")
    # Distributed rows (benchmarks/_crawl_distributed.py): N workers, PostgreSQL and Redis.
    parser.add_argument("--distributed", default="1,2,4", help="worker counts; '' skips")
    parser.add_argument("--distributed-pages", type=int, default=300)
    parser.add_argument("--only-distributed", action="store_true", help="only the distributed rows")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    if args.distributed:
        distributed_rows(args, env)
    if args.only_distributed:
        return
    if args.works:
        works_rows(args, env)
    if args.only_works:
        return
    site = Site(args.pages, args.growth_pages)
    base, server = serve(site)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    rows = []
    growth: tuple[int, float, int, dict[int, int]] | None = None
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        modes = []
        if not args.only_growth:
            elapsed, out, peak, _ = measured([sys.executable, "-c", _BARE, base + "/p/0.html"], env)
            images, responses = (int(x) for x in out.split())
            rows.append(("bare scrapy (baseline)", responses - images, images, elapsed, peak))
            modes.append(("static", args.pages))
            if not args.no_render:
                modes.append(("render", args.render_pages or args.pages))
        for mode, pages in modes:
            cmd = copyseal_crawl(
                tmp, mode, base + "/p/0.html", env, pages=pages, render=mode == "render"
            )
            elapsed, out, peak, _ = measured(cmd, env)
            result = json.loads(out)
            rows.append((f"copyseal {mode}", result["pages"], result["images"], elapsed, peak))
        if args.growth_pages:
            n = args.growth_pages
            marks = tuple(m for m in (1_000, 5_000, 10_000, n) if m <= n)
            cmd = copyseal_crawl(tmp, "growth", base + "/g/p/0.html", env, pages=n, render=False)
            if args.growth_works:
                # The same crawl into a workspace with works registered: every image goes
                # through the match stage (memory of the match processes included).
                import _crawl_works

                ws, _ = _crawl_works.prepare_workspace(
                    tmp, "growth-works", args.growth_works, _crawl_works.works(), env
                )
                cmd[cmd.index("--config") + 1] = str(ws / "config.yaml")
            elapsed, out, peak, at = measured(
                cmd, env, progress=lambda: site.growth_pages_served, marks=marks
            )
            result = json.loads(out)
            label = "copyseal static (growth)"
            if args.growth_works:
                label = f"growth, {args.growth_works:,} works"
            rows.append((label, result["pages"], result["images"], elapsed, peak))
            growth = (result["pages"], elapsed, peak, at)
    server.shutdown()
    print(
        f"{'crawl':<26}{'pages':>7}{'images':>8}{'seconds':>9}{'pages/s':>9}"
        f"{'images/s':>10}{'peak tree MB':>14}"
    )
    for name, pages, images, elapsed, peak in rows:
        print(
            f"{name:<26}{pages:>7}{images:>8}{elapsed:>9.1f}{pages / elapsed:>9.1f}"
            f"{images / elapsed:>10.1f}{peak / _MB:>14.0f}"
        )
    if not args.only_growth:
        bare = rows[0][1] / rows[0][3]
        static = rows[1][1] / rows[1][3]
        print(f"\ncopyseal static / bare scrapy = {static / bare:.2f} (target >= 0.5)")
    if growth is not None:
        pages, elapsed, peak, at = growth
        print(f"\nmemory growth, static crawl of {pages} generated pages in {elapsed:.0f} s:")
        print(f"{'pages crawled':>14}{'peak tree MB so far':>22}")
        for mark, value in sorted(at.items()):
            print(f"{mark:>14,}{value / _MB:>22.0f}")
        print(f"{'end':>14}{peak / _MB:>22.0f}   (target < 1536 MB, flat)")


if __name__ == "__main__":
    main()
