"""Render mode on a local site whose scripts insert images late: pages/s, images found,
and the process tree's memory, with the former settle rule and the current one.

    .venv/bin/python benchmarks/render.py [--pages 60] [--concurrency 4]
    .venv/bin/python benchmarks/render.py --pages 1000      # the long run (memory)

One run serves a generated site from memory on 127.0.0.1 (a tree of fan-out 8, like a
shop's listings) and crawls it with ``copyseal crawl --render --no-capture`` three times, each
crawl in its own process and its own workspace:

* **before** — the former behaviour: settled once the network had nothing in flight for
  0.3 s (``crawl.render_timer_window=0``), one browser context for the whole crawl
  (``crawl.render_pages_per_context=0``);
* **after** — the defaults: timers due within ``render_timer_window`` s of a page's start
  and image DOM changes count as activity (``copyseal.crawl._settle``), one context;
* **rotate** — the same with a fresh context every ``--rotate`` pages
  (``crawl.render_pages_per_context``, ``copyseal.crawl._contexts``).

Pages come in five kinds, by number: *quiet* (two ``img``), *quiet-lazy* (two lazy
``img`` below the fold), *late* (one ``img``, and one inserted by a ``setTimeout`` of
0.5-2 s), *carousel* (slide 1 in the HTML, slides 2 and 3 set by a 0.7 s
``setInterval``), *hydrate* (a ``requestIdleCallback`` then a 0.3 s timer fetch JSON and
write two ``img`` with ``innerHTML``). Every image URL is distinct (crops of
scikit-image photos with a unique trailer), so "expected" is a set of URLs per page and
"found" is what the crawl stored (``crawl_images``).

Memory is the whole process tree's summed RSS (Chromium included; ``benchmarks/crawl.py``
says how), sampled every 0.1 s, with the peak reached by each quarter of the pages.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

# The same in-memory site server as the crawl benchmark (any object with ``get(path)``).
from crawl import serve

KINDS = ("quiet", "late", "carousel", "hydrate", "quiet-lazy")
_MB = 1024 * 1024


def _pool() -> list[bytes]:
    """Sixteen 240x180 JPEG crops of real photos."""
    import skimage.data
    from PIL import Image

    out = []
    for photo in (skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea()):
        img = Image.fromarray(photo)
        for k in range(6):
            box = (k * 20, k * 15, k * 20 + img.width // 2, k * 15 + img.height // 2)
            buf = io.BytesIO()
            img.crop(box).resize((240, 180)).save(buf, format="JPEG", quality=80)
            out.append(buf.getvalue())
    return out[:16]


class Site:
    """``pages`` pages ``/p/N.html`` of the five kinds; images ``/img/N-name.jpg``."""

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.pool = _pool()
        self.served = 0
        self.lock = threading.Lock()

    @staticmethod
    def kind(i: int) -> str:
        return KINDS[i % len(KINDS)]

    def expected(self, i: int) -> dict[str, bool]:
        """Image paths page ``i`` shows -> whether a script inserts it late."""
        kind = self.kind(i)
        if kind == "late":
            return {f"/img/{i}-a.jpg": False, f"/img/{i}-late.jpg": True}
        if kind == "carousel":
            return {f"/img/{i}-s1.jpg": False, f"/img/{i}-s2.jpg": True, f"/img/{i}-s3.jpg": True}
        if kind == "hydrate":
            return {f"/img/{i}-h1.jpg": True, f"/img/{i}-h2.jpg": True}
        return {f"/img/{i}-a.jpg": False, f"/img/{i}-b.jpg": False}

    def page(self, i: int) -> bytes:
        kind = self.kind(i)
        links = "".join(
            f'<a href="/p/{k}.html">{k}</a> ' for k in range(8 * i + 1, min(self.pages, 8 * i + 9))
        )
        if kind == "quiet":
            body = f'<img src="/img/{i}-a.jpg"><img src="/img/{i}-b.jpg">'
        elif kind == "quiet-lazy":
            body = (
                f"<div style='height:1400px'></div><img src='/img/{i}-a.jpg' loading='lazy'>"
                f"<img src='/img/{i}-b.jpg' loading='lazy'>"
            )
        elif kind == "late":
            delay = 500 + (i * 373) % 1500
            body = (
                f'<img src="/img/{i}-a.jpg"><div id="box"></div><script>setTimeout(() => {{'
                f"const m = document.createElement('img'); m.src = '/img/{i}-late.jpg';"
                f"document.getElementById('box').appendChild(m);}}, {delay});</script>"
            )
        elif kind == "carousel":
            body = (
                f'<img id="slide" src="/img/{i}-s1.jpg"><script>'
                f"const s = ['/img/{i}-s2.jpg', '/img/{i}-s3.jpg', '/img/{i}-s1.jpg']; let n = 0;"
                "setInterval(() => { document.getElementById('slide').src = s[n++ % 3]; }, 700);"
                "</script>"
            )
        else:
            body = (
                '<div id="app">loading</div><script>requestIdleCallback(() => setTimeout('
                f"async () => {{ const r = await fetch('/api/{i}.json'); const items = await "
                "r.json(); document.getElementById('app').innerHTML = items.map("
                "u => `<img src=\"${u}\">`).join(''); }, 300));</script>"
            )
        return (
            f"<html><head><title>Page {i:06d}</title></head><body><p>{'Text. ' * 40}</p>"
            f"{body}{links}</body></html>"
        ).encode()

    def get(self, path: str) -> tuple[str, bytes] | None:
        if path.startswith("/p/") and path.endswith(".html"):
            i = int(path[3:-5])
            if i >= self.pages:
                return None
            with self.lock:
                self.served += 1
            return "text/html", self.page(i)
        if path.startswith("/api/") and path.endswith(".json"):
            i = int(path[5:-5])
            return "application/json", json.dumps([f"/img/{i}-h1.jpg", f"/img/{i}-h2.jpg"]).encode()
        if path.startswith("/img/") and path.endswith(".jpg"):
            name = path[5:-4]
            return "image/jpeg", self.pool[hash(name) % len(self.pool)] + name.encode()
        return None


def run(
    site: Site, base: str, tmp: Path, name: str, sets: list[str], args: argparse.Namespace
) -> dict[str, object]:
    from copyseal.config import load_settings
    from crawl import measured

    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    ws = tmp / name
    subprocess.run(
        [sys.executable, "-m", "copyseal", "init", str(ws)], check=True, capture_output=True
    )
    config = ws / "config.yaml"
    common = {
        "crawl.autothrottle": "false",
        "crawl.per_domain_concurrency": "16",
        "crawl.render_concurrency": str(args.concurrency),
        "crawl.max_pages": str(site.pages),
        "crawl.max_depth": "100000",
    }
    cmd = [sys.executable, "-m", "copyseal", "--config", str(config)]
    for key, value in common.items():
        cmd += ["--set", f"{key}={value}"]
    for item in sets:
        cmd += ["--set", item]
    cmd += [
        "crawl",
        base + "/p/0.html",
        "--render",
        "--allow-private",
        "--no-capture",
        "--json",
        "--no-progress",
    ]
    site.served = 0
    quarters = tuple(max(1, site.pages * q // 4) for q in (1, 2, 3, 4))
    elapsed, out, peak, at = measured(cmd, env, progress=lambda: site.served, marks=quarters)
    result = json.loads(out)
    db = load_settings(config, env={}).database.url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        stored = {u.removeprefix(base) for (u,) in conn.execute("select url from crawl_images")}
        # Only pages crawled as content: a page whose links read "404" can be a soft-404.
        pages = conn.execute(
            "select url, reason_code from crawl_pages where status = 'done'"
        ).fetchall()
    found: Counter[str] = Counter()
    expected: Counter[str] = Counter()
    for url, _ in pages:
        if not url.startswith(base + "/p/"):
            continue
        i = int(url[len(base) + 3 : -5])
        for path, late in site.expected(i).items():
            key = f"{site.kind(i)}{' (late)' if late else ''}"
            expected[key] += 1
            found[key] += path in stored
    return {
        "name": name,
        "pages": result["pages"],
        "seconds": elapsed,
        "peak": peak,
        "at": at,
        "found": found,
        "expected": expected,
        "cut": sum(1 for _, code in pages if code == "not-settled"),
        "contexts": result["stats"].get("playwright/context_count", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=4, help="crawl.render_concurrency")
    parser.add_argument("--only", choices=("before", "after", "rotate"), default=None)
    parser.add_argument("--rotate", type=int, default=100, help="pages per context (rotate)")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    site = Site(args.pages)
    base, server = serve(site)
    modes = {
        "before": ["crawl.render_timer_window=0", "crawl.render_pages_per_context=0"],
        "after": [],
        "rotate": [f"crawl.render_pages_per_context={args.rotate}"],
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        for name, sets in modes.items():
            if args.only in (None, name):
                rows.append(run(site, base, Path(tmp_name), name, sets, args))
    server.shutdown()
    print(
        f"{'settle':<8}{'pages':>7}{'seconds':>9}{'pages/s':>9}{'images':>13}"
        f"{'late images':>13}{'cut at cap':>11}{'contexts':>9}{'peak tree MB':>14}"
    )
    for r in rows:
        found, expected = r["found"], r["expected"]
        assert isinstance(found, Counter) and isinstance(expected, Counter)
        late = [k for k in expected if k.endswith("(late)")]
        lf, le = sum(found[k] for k in late), sum(expected[k] for k in late)
        seconds = float(r["seconds"])  # type: ignore[arg-type]
        print(
            f"{r['name']:<8}{r['pages']:>7}{seconds:>9.1f}{int(r['pages']) / seconds:>9.2f}"  # type: ignore[call-overload]
            f"{f'{sum(found.values())}/{sum(expected.values())}':>13}{f'{lf}/{le}':>13}"
            f"{r['cut']:>11}{r['contexts']:>9}{int(r['peak']) / _MB:>14.0f}"  # type: ignore[call-overload]
        )
    print("\nimages found / expected by kind of page:")
    kinds = sorted({k for r in rows for k in r["expected"]})  # type: ignore[attr-defined]
    print(f"{'kind':<20}" + "".join(f"{r['name']:>10}" for r in rows))
    for k in kinds:
        cells = "".join(f"{r['found'][k]}/{r['expected'][k]}".rjust(10) for r in rows)  # type: ignore[index]
        print(f"{k:<20}{cells}")
    print("\npeak tree MB by pages served (memory must stay flat):")
    print(f"{'pages':>8}" + "".join(f"{r['name']:>10}" for r in rows))
    marks = sorted({m for r in rows for m in r["at"]})  # type: ignore[attr-defined]
    for m in marks:
        cells = "".join(
            (f"{r['at'][m] / _MB:.0f}" if m in r["at"] else "-").rjust(10)  # type: ignore[index,operator]
            for r in rows
        )
        print(f"{m:>8}{cells}")


if __name__ == "__main__":
    main()
