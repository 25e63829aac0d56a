"""A capture's WACZ opens in ReplayWeb.page: the page and its image replay from the archive.

The evidence issue asks that the WACZ "passes `wacz validate` and opens in ReplayWeb.page"
(the first is checked in test_capture.py). Here a local page with a real photo is captured,
its site is shut down, and the WACZ is embedded in ReplayWeb.page (the npm package that
``make setup`` fetches into ``.cache/``, see ``.ci/fetch_replayweb.py``) served from
another port of 127.0.0.1. Chromium may reach nothing but that server, so the text and the
photo shown can only come from the archive. Screenshots are left in the test's tmp_path.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import json
import os
import re
import shutil
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, Frame, Page, Route, sync_playwright

from copyseal.capture import Capture, capture_page_sync
from copyseal.capture.session import CHROMIUM_ARGS
from copyseal.netpolicy import AddressPolicy

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
REPLAYWEB_VERSION = "2.5.3"  # VERSION in .ci/fetch_replayweb.py
REPLAYWEB = REPO / ".cache" / f"replaywebpage-{REPLAYWEB_VERSION}"
# The service worker's scope (the embed's replayBase): sw.js must be served from there.
REPLAY_BASE = "/replay/"

if not CHROMIUM.exists():  # pragma: no cover - the machine has it
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)


# -- the site that is captured, then shut down -----------------------------------------
def _photo() -> bytes:
    import skimage.data

    buf = io.BytesIO()
    Image.fromarray(skimage.data.astronaut()).save(buf, "JPEG", quality=90)
    return buf.getvalue()


PHOTO = _photo()
TITLE = "Stolen astronaut"
BLURB = "Astronaut poster, printed on demand: 19.90 EUR"
STOCK = "In stock: 3 left"
STOCK_DELAY = 1.2
STYLE = b"h1 { color: rgb(0, 90, 160); }\n"
PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{TITLE}</title>
<link rel="stylesheet" href="/style.css"></head>
<body>
<h1>Poster shop</h1>
<p id="blurb">{BLURB}</p>
<img id="astro" src="/img/astronaut.jpg" alt="astronaut" width="256" height="256">
<script>
  const p = document.createElement('p'); p.id = 'js-added'; p.textContent = 'added by script';
  document.body.appendChild(p);
  fetch('/stock').then(r => r.text()).then(t => {{
    const q = document.createElement('p'); q.id = 'stock'; q.textContent = t;
    document.body.appendChild(q);
  }});
</script>
</body></html>
""".encode()


class _SiteHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        extra: tuple[tuple[str, str], ...] = ()
        if self.path == "/shop.html":
            # Sent gzip-encoded: the WACZ holds it decoded, and it must still replay.
            body, ctype = gzip.compress(PAGE), "text/html; charset=utf-8"
            extra = (("Content-Encoding", "gzip"),)
        elif self.path == "/style.css":
            body, ctype = STYLE, "text/css"
        elif self.path == "/img/astronaut.jpg":
            body, ctype = PHOTO, "image/jpeg"
        elif self.path == "/stock":
            # Slow on purpose: the capture waits for it, so the capture's end (and its
            # metadata record) is always in a later second than the page's response.
            time.sleep(STOCK_DELAY)
            body, ctype = STOCK.encode(), "text/plain"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the browser drops connections it no longer needs: not a test failure


class _Server:
    """A threaded HTTP server on a free port of 127.0.0.1."""

    def __init__(self, handler: Any) -> None:
        self.httpd = _QuietServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture(scope="module")
def replaywebpage() -> Path:
    """The unpacked npm package; a failure (not a skip) when ``make setup`` was not run."""
    if not (REPLAYWEB / ".complete").is_file():
        pytest.fail(
            f"ReplayWeb.page {REPLAYWEB_VERSION} is missing from {REPLAYWEB}: run `make setup` "
            "(it fetches the npm package with .ci/fetch_replayweb.py)",
            pytrace=False,
        )
    return REPLAYWEB


@pytest.fixture(scope="module")
def capture(replaywebpage: Path, tmp_path_factory: pytest.TempPathFactory) -> Capture:
    site = _Server(_SiteHandler)
    try:
        return capture_page_sync(
            f"{site.origin}/shop.html",
            tmp_path_factory.mktemp("captures") / "shop",
            targets=[f"{site.origin}/img/astronaut.jpg"],
            executable=CHROMIUM,
            policy=AddressPolicy(allow_private=True),  # the site is on loopback
        )
    finally:
        site.stop()  # from here on the page exists only in the capture


# -- ReplayWeb.page, served from another port ------------------------------------------
class _StaticHandler(http.server.SimpleHTTPRequestHandler):
    """Static files, with the byte ranges ReplayWeb.page asks for to read a WACZ on demand."""

    def __init__(self, *args: Any, served: list[tuple[str, str | None]], **kwargs: Any) -> None:
        self.served = served  # (path, Range header) of each request
        super().__init__(*args, **kwargs)

    def log_message(self, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def send_head(self) -> Any:
        self.served.append((self.path, self.headers.get("Range")))
        ranged = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if not ranged or ranged[0] == "bytes=-" or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        if ranged[1]:
            start, end = int(ranged[1]), min(int(ranged[2] or size - 1), size - 1)
        else:  # a suffix: the last N bytes
            start, end = max(size - int(ranged[2]), 0), size - 1
        if start > end:
            self.send_error(416)
            return None
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        with path.open("rb") as f:
            f.seek(start)
            return io.BytesIO(f.read(end - start + 1))


# What sw.js serves at replayBase (getIndexHtml with serveIndex=1), byte for byte.
VIEWER = """
    <!doctype html>
    <html>
    <head><script src="./ui.js"></script></head>
    <body>
    <replay-app-main></replay-app-main>
    </body></html>"""


def _embed(url: str, ts: str | None) -> str:
    """A page embedding ReplayWeb.page as its docs show (replay-web-page element)."""
    when = f' ts="{ts}"' if ts else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>copyseal replay check</title>
<script src="replay/ui.js"></script></head>
<body style="margin:0; height:100vh">
<replay-web-page source="capture.wacz" url="{url}"{when}
                 replayBase="{REPLAY_BASE}" embed="default"></replay-web-page>
</body></html>
"""


def _page_ts(capture: Capture) -> str:
    """The page's 14-digit timestamp in the WACZ's page list (what ReplayWeb.page links)."""
    with zipfile.ZipFile(capture.path("wacz")) as z:
        pages = [json.loads(x) for x in z.read("pages/pages.jsonl").splitlines()[1:]]
    return re.sub(r"\D", "", pages[0]["ts"])[:14]


@dataclass
class _ReplaySite:
    origin: str
    served: list[tuple[str, str | None]]  # (path, Range header) of each request


@pytest.fixture(scope="module")
def replay_site(
    replaywebpage: Path, capture: Capture, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[_ReplaySite]:
    """Serves ReplayWeb.page, the WACZ and two embedding pages."""
    www = tmp_path_factory.mktemp("replay") / "www"
    (www / "replay").mkdir(parents=True)
    # ui.js next to sw.js: the viewer page the service worker serves loads ./ui.js.
    for name in ("ui.js", "sw.js"):
        shutil.copy(replaywebpage / name, www / "replay" / name)
    # That viewer page, also as a file: if the embed's frame is requested before the new
    # service worker controls it, the server answers in its place (else a directory list).
    (www / "replay" / "index.html").write_text(VIEWER, encoding="utf-8")
    shutil.copy(capture.path("wacz"), www / "capture.wacz")
    (www / "at-page-ts.html").write_text(
        _embed(capture.final_url, _page_ts(capture)), encoding="utf-8"
    )
    (www / "by-url.html").write_text(_embed(capture.final_url, None), encoding="utf-8")
    served: list[tuple[str, str | None]] = []
    server = _Server(functools.partial(_StaticHandler, directory=os.fspath(www), served=served))
    yield _ReplaySite(origin=server.origin, served=served)
    server.stop()


@pytest.fixture(scope="module")
def browser(capture: Capture) -> Iterator[Browser]:
    # After the capture: capture_page_sync runs an asyncio loop, which it cannot do while
    # Playwright's sync API runs its own in this thread.
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        yield b
        b.close()


@dataclass
class _Replay:
    page: Page
    frame: Frame  # the one showing the archived page
    blocked: list[str]  # requests refused because they were not for the replay site
    served: list[tuple[str, str | None]]  # what the replay site served


OpenReplay = Callable[[str], _Replay]


def _replayed_frame(page: Page, url: str, timeout: float, log: list[str]) -> Frame:
    """The frame in which ReplayWeb.page shows the archived ``url``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in page.frames:
            # wabac.js serves archived pages at /replay/w/<collection>/.../<ts>mp_/<url>.
            if frame.url.endswith("mp_/" + url):
                return frame
        page.wait_for_timeout(100)
    urls = [f.url for f in page.frames]
    raise TimeoutError(f"no replay frame for {url} within {timeout} s; frames: {urls}; {log}")


@pytest.fixture
def replay(browser: Browser, replay_site: _ReplaySite, capture: Capture) -> Iterator[OpenReplay]:
    """Opens an embedding page in a fresh context that can reach nothing but replay_site."""
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    origin = replay_site.origin
    blocked: list[str] = []
    log: list[str] = []

    def only_the_replay_site(route: Route) -> None:
        if route.request.url.startswith(origin + "/"):
            route.continue_()
        else:  # the internet, and the captured site's (closed) port
            blocked.append(route.request.url)
            route.abort("blockedbyclient")

    # A context route also sees the service worker's own requests.
    context.route("**/*", only_the_replay_site)
    context.on("requestfailed", lambda q: log.append(f"failed: {q.url} {q.failure}"))

    def open_(embedding: str) -> _Replay:
        replay_site.served.clear()
        page = context.new_page()
        page.on("console", lambda m: log.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: log.append(f"error: {e}"))
        page.goto(f"{origin}/{embedding}")
        frame = _replayed_frame(page, capture.final_url, timeout=20, log=log)
        # The replayed document, or ReplayWeb.page's "Archived Page Not Found".
        frame.wait_for_function("() => document.title !== ''", timeout=15_000)
        return _Replay(page=page, frame=frame, blocked=blocked, served=replay_site.served)

    yield open_
    context.close()


# -- the checks ------------------------------------------------------------------------
_SHOWN = """async () => {
    const img = document.querySelector('#astro');
    await img.decode();
    const bytes = await (await fetch(img.currentSrc)).arrayBuffer();
    const digest = await crypto.subtle.digest('SHA-256', bytes);
    return {
        text: document.body.innerText,
        naturalWidth: img.naturalWidth,
        naturalHeight: img.naturalHeight,
        src: img.currentSrc,
        sha256: Array.from(new Uint8Array(digest))
            .map(b => b.toString(16).padStart(2, '0')).join(''),
        h1Color: getComputedStyle(document.querySelector('h1')).color,
    };
}"""


def test_page_replays_from_the_wacz_at_its_timestamp(
    replay: OpenReplay, capture: Capture, tmp_path: Path
) -> None:
    """The page as ReplayWeb.page opens it from the WACZ's page list (URL and timestamp)."""
    t0 = time.monotonic()
    r = replay("at-page-ts.html")
    assert r.frame.title() == TITLE, r.frame.content()[:2000]
    r.frame.wait_for_selector("#stock", timeout=10_000)
    shown = r.frame.evaluate(_SHOWN)
    r.page.screenshot(path=str(tmp_path / "replaywebpage.png"))
    elapsed = time.monotonic() - t0

    assert BLURB in shown["text"]
    assert "added by script" in shown["text"]  # the archived script ran,
    assert STOCK in shown["text"]  # and its fetch was answered from the archive
    assert shown["h1Color"] == "rgb(0, 90, 160)"  # the archived style sheet applied
    # The matched image is shown, and is byte for byte what the site served.
    assert (shown["naturalWidth"], shown["naturalHeight"]) == (512, 512)
    assert shown["sha256"] == hashlib.sha256(PHOTO).hexdigest()
    image_url = capture.final_url.replace("shop.html", "img/astronaut.jpg")
    assert shown["src"].endswith("_/" + image_url), shown["src"]
    # Nothing was asked of the (closed) site or anywhere else: the capture is complete.
    assert r.blocked == []
    # ReplayWeb.page read the WACZ on demand, through its index (indexes/index.idx and
    # index.cdx.gz point at the records), never as a whole.
    reads = [rng for path, rng in r.served if path == "/capture.wacz"]
    assert reads and all(reads), reads
    assert sum(bool(re.fullmatch(r"bytes=\d+-\d+", x or "")) for x in reads) >= 3, reads
    assert elapsed < 30, f"replay took {elapsed:.1f} s"


def test_page_replays_from_the_wacz_by_url_alone(replay: OpenReplay, tmp_path: Path) -> None:
    """A viewer given only the URL (no timestamp) must find the page too (the latest
    record at the page's URL must be its response, not the capture-facts metadata)."""
    r = replay("by-url.html")
    r.page.screenshot(path=str(tmp_path / "replaywebpage-by-url.png"))
    assert r.frame.title() == TITLE
