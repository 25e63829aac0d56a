"""A hostile page aims the crawler at a third party: 120 ``<img>`` each on two pages,
all on another host. With the caps set low, the third party sees only the capped number
of requests, and the crawl records every image it left unfetched with the cap's code."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from copyseal.crawl.reasons import REASONS
from copyseal.registry import register_paths
from copyseal.workspace import Workspace, init_workspace

PER_PAGE, PER_HOST, SHOWN = 30, 50, 120


class _Server:
    """One loopback HTTP server: ``pages`` by path, anything else a small PNG; counts hits."""

    def __init__(self, host: str, pages: dict[str, str], png: bytes) -> None:
        self.hits: Counter[str] = Counter()
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with lock:
                    outer.hits[self.path] += 1
                if self.path in pages:
                    body, ctype, status = pages[self.path].encode(), "text/html", 200
                elif self.path.startswith("/i/"):
                    body, ctype, status = png, "image/png", 200
                else:
                    body, ctype, status = b"not found", "text/plain", 404
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers(photos: dict[str, np.ndarray]) -> Iterator[tuple[_Server, _Server]]:
    out = io.BytesIO()
    Image.fromarray(photos["coffee"]).resize((64, 43)).save(out, format="PNG")
    third = _Server("127.0.0.2", {}, out.getvalue())

    def hostile(name: str) -> str:
        imgs = "".join(f'<img src="{third.base}/i/{name}-{n}.png">' for n in range(SHOWN))
        return f"<html><head><title>{name}</title></head><body>{imgs}</body></html>"

    index = '<html><head><title>index</title></head><body><a href="/a.html">a</a>'
    index += '<a href="/b.html">b</a></body></html>'
    site = _Server(
        "127.0.0.1",
        {"/": index, "/a.html": hostile("a"), "/b.html": hostile("b")},
        out.getvalue(),
    )
    yield site, third
    site.close()
    third.close()


def test_image_fetches_are_capped_per_page_and_per_foreign_host(
    servers: tuple[_Server, _Server], photos: dict[str, np.ndarray], tmp_path: Path
) -> None:
    site, third = servers
    settings = init_workspace(tmp_path / "ws")
    work = tmp_path / "work.jpg"
    Image.fromarray(photos["astronaut"]).save(work, format="JPEG")
    ws = Workspace.open(settings)
    try:
        assert all(hasattr(r, "work_id") for r in register_paths(ws, [work]))
    finally:
        ws.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    sets = [
        f"crawl.max_images_per_page={PER_PAGE}",
        f"crawl.max_images_per_host={PER_HOST}",
        "crawl.autothrottle=false",
        "crawl.timeout=4",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "copyseal", "--config", str(tmp_path / "ws" / "config.yaml")]
        + [a for s in sets for a in ("--set", s)]
        + ["crawl", "--allow-private", "--no-capture", "--json", "--depth", "1", site.base + "/"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    fetched = sum(n for path, n in third.hits.items() if path.startswith("/i/"))
    assert fetched == PER_HOST  # not 2 x 300
    skipped = result["image_reasons"]["skipped"]
    assert skipped.get("max-images-host", 0) > 0 and skipped.get("max-images-page", 0) > 0
    assert skipped["max-images-host"] + skipped["max-images-page"] == 2 * SHOWN - PER_HOST
    example = result["image_reason_examples"]["skipped"]["max-images-host"][0]
    assert example.startswith(third.base + "/i/")
    assert "crawl.max_images_per_host" in (REASONS["max-images-host"].remedy or "")
