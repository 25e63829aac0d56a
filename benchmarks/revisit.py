"""Re-visit benchmark: a revisit's cost per match (seconds, bundle size) on a local site.

Run: ``.venv/bin/python benchmarks/revisit.py [--pages 6] [--quick]``

A site of N pages is served from 127.0.0.1, each showing one real photo (scikit-image /
scikit-learn, JPEG) that is registered in a fresh SQLite workspace. Rows, measured in the
same run:

- first capture + seal (baseline): each page's match captured and sealed by
  :func:`copyseal.pipeline.seal_pending`, the path a crawl with ``capture.on_match`` takes;
- revisit, present: :func:`copyseal.revisit.revisit` of every match, the pages unchanged
  (capture, the work looked for in every image, compared with the first capture, sealed,
  a ``continued-use`` statement);
- revisit, removed + 1 linked page: the photo taken off every page, which now links to a
  same-site page without it (so one linked page is captured and searched per match).

Bundle size is the bundle folder's bytes on disk (files' sizes).
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import io
import json
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from PIL import Image

_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "china.jpg", "flower.jpg")


def _photos() -> list[bytes]:
    import skimage.data as sk
    from sklearn.datasets import load_sample_image

    out = []
    for name in _PHOTOS:
        pixels = load_sample_image(name) if name.endswith(".jpg") else getattr(sk, name)()
        buf = io.BytesIO()
        Image.fromarray(pixels).convert("RGB").save(buf, "JPEG", quality=88)
        out.append(buf.getvalue())
    return out


class _Site:
    def __init__(self, photos: list[bytes]) -> None:
        self.photos = photos
        self.removed = False
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body, ctype = site.answer(self.path.split("?")[0])
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def answer(self, path: str) -> tuple[bytes, str]:
        if path.startswith("/img/"):
            return self.photos[int(path[5:].split(".")[0]) % len(self.photos)], "image/jpeg"
        if path.startswith("/page/"):
            n = int(path[6:].split(".")[0])
            text = "<p>" + "A post about pictures. " * 30 + "</p>"
            body = (
                f"{text}<p><a href='/other.html'>more</a></p>"
                if self.removed
                else f"{text}<img src='/img/{n}.jpg' width='480'>"
            )
            html = f"<!doctype html><html><head><title>Post {n}</title></head><body>{body}"
            return (html + "</body></html>").encode(), "text/html"
        if path == "/other.html":
            return b"<html><head><title>Other</title></head><body><p>Nothing.</p></body></html>", (
                "text/html"
            )
        return b"", "text/plain"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _seed(ws: Any, site: _Site, pages: int) -> str:
    from sqlalchemy.orm import Session

    from copyseal import times
    from copyseal.crawl import JobSpec
    from copyseal.db.schema.crawl import CrawlJob, CrawlMatch
    from copyseal.registry import build_matcher

    matcher = build_matcher(ws.engine, ws.settings, use_cache=False)
    job_id = "bench-revisit"
    with Session(ws.engine) as db:
        spec = JobSpec(target="cli", urls=(site.base,), allow_private=True)
        db.add(
            CrawlJob(
                job_id=job_id,
                target="cli",
                spider="site",
                render=False,
                status="finished",
                spec=spec.dumps(),
                created_at=times.now(),
            )
        )
        db.flush()
        for n in range(pages):
            page, image = f"{site.base}page/{n}.html", f"{site.base}img/{n}.jpg"
            with urllib.request.urlopen(image, timeout=10) as answer:  # loopback only
                data = answer.read()
            found = matcher.match(data, name=image)[0]
            db.add(
                CrawlMatch(
                    job_id=job_id,
                    page_key=hashlib.sha256(page.encode()).hexdigest(),
                    image_key=hashlib.sha256(image.encode()).hexdigest(),
                    page_url=page,
                    image_url=image,
                    work_id=found.work_id,
                    score=found.score,
                    image_sha256=hashlib.sha256(data).hexdigest(),
                    location="{}",
                    detail=json.dumps(found.to_json()),
                    found_at=times.now(),
                )
            )
        db.commit()
    return job_id


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=6, help="pages (matches) on the site")
    parser.add_argument("--quick", action="store_true", help="2 pages, for a smoke run")
    args = parser.parse_args()
    pages = 2 if args.quick else max(1, args.pages)

    from copyseal.config import load_settings
    from copyseal.pipeline import seal_pending
    from copyseal.registry import register_paths
    from copyseal.revisit import revisit
    from copyseal.workspace import Workspace, init_workspace

    photos = _photos()
    site = _Site(photos)
    with tempfile.TemporaryDirectory(prefix="copyseal-bench-revisit-") as tmp:
        root = Path(tmp)
        works = root / "works"
        works.mkdir()
        for n, data in enumerate(photos[:pages]):
            (works / f"w{n}.jpg").write_bytes(data)
        init_workspace(root / "ws")
        ws = Workspace.open(load_settings(root / "ws" / "config.yaml"))
        try:
            list(register_paths(ws, [works], owner="Bench"))
            job = _seed(ws, site, min(pages, len(photos)))
            rows: list[tuple[str, float, list[int], str]] = []
            t0 = time.perf_counter()
            sealed = seal_pending(ws, job)
            elapsed = time.perf_counter() - t0
            sizes = [_size(o.bundle.path) for o in sealed if o.bundle]
            rows.append(("first capture + seal (baseline)", elapsed, sizes, f"{len(sizes)} sealed"))
            for label, removed in (
                ("revisit, present", False),
                ("revisit, removed + 1 link", True),
            ):
                site.removed = removed
                t0 = time.perf_counter()
                visits = revisit(ws, allow_private=True)
                elapsed = time.perf_counter() - t0
                sizes = [_size(v.bundle.path) for v in visits if v.bundle]
                results = sorted({str(v.result) for v in visits})
                rows.append((label, elapsed, sizes, ",".join(results)))
        finally:
            ws.close()
            site.close()
    n = min(pages, len(photos))
    print(f"revisit benchmark: {n} matches on a local site, one Chromium, SQLite\n")
    print(f"{'step':34} {'s/match':>8} {'bundle kB (median)':>19}  results")
    print("-" * 80)
    for label, elapsed, sizes, said in rows:
        kb = statistics.median(sizes) / 1000 if sizes else 0.0
        print(f"{label:34} {elapsed / n:8.2f} {kb:19.0f}  {said}")


if __name__ == "__main__":
    main()
