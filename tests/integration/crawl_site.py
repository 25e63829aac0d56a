"""A generated test site served on 127.0.0.1: every way a page shows an image, and traps.

Each extraction kind shows the image at its own URL ``/img/k-<kind>.jpg`` (bytes of a
real photo), so a test can tell which kinds a crawl found. The server records every
path it served (``Site.hits``) so tests can prove what was (not) fetched again.
"""

from __future__ import annotations

import base64
import contextlib
import io
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

#: kind -> (found in static mode?, found in render mode?)
KINDS: dict[str, tuple[bool, bool]] = {
    "img": (True, True),
    "srcset-large": (True, True),
    "picture": (True, True),
    "lazy": (True, True),
    "style-attr": (True, True),
    "style-tag": (True, True),
    "stylesheet": (True, True),
    "pseudo": (True, True),
    "og": (True, True),
    "twitter": (True, True),
    "jsonld": (True, True),
    "noscript": (True, True),
    "iframe": (True, True),
    "noext": (True, True),
    "js": (False, True),
    "lazy-io": (False, True),
}


def _jpeg(pixels: object, *, scale: float = 1.0, quality: int = 90) -> bytes:
    img = Image.fromarray(pixels)  # type: ignore[arg-type]
    if scale != 1.0:
        img = img.resize((max(1, int(img.width * scale)), max(1, int(img.height * scale))))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _bomb() -> bytes:
    """A PNG whose header claims 60000 x 60000 pixels (a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


@dataclass
class Site:
    """The site's files and its request log."""

    files: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    agents: set[str] = field(default_factory=set)
    delays: dict[str, float] = field(default_factory=dict)
    #: A request for one of these paths waits until its event is set (at most 120 s).
    gates: dict[str, threading.Event] = field(default_factory=dict)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(
        self, path: str, body: bytes | str, ctype: str = "text/html", status: int = 200
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.files[path] = (status, ctype, data)


def build_site(photos: dict[str, object]) -> tuple[Site, dict[str, bytes]]:
    """The site, and the bytes of the works to register (name -> bytes)."""
    site = Site()
    works = {name: _jpeg(photos[name]) for name in ("astronaut", "chelsea", "rocket", "china")}
    coffee_png = io.BytesIO()
    Image.fromarray(photos["coffee"]).resize((200, 133)).save(coffee_png, format="PNG")  # type: ignore[arg-type]
    works["coffee"] = coffee_png.getvalue()
    unregistered = _jpeg(photos["flower"])
    edited = _jpeg(photos["astronaut"], scale=0.6, quality=70)

    for kind in KINDS:
        site.add(f"/img/k-{kind}.jpg", works["chelsea"], "image/jpeg")
    site.add("/img/k-srcset-small.jpg", works["chelsea"], "image/jpeg")
    site.add("/img/k-noext", works["rocket"], "text/plain")  # sniffed, not trusted
    site.add("/img/astronaut.jpg", works["astronaut"], "image/jpeg")
    site.add("/img/astronaut-edited.jpg", edited, "image/jpeg")
    site.add("/img/flower.jpg", unregistered, "image/jpeg")
    site.add("/img/china.jpg", works["china"], "image/jpeg")
    site.add("/img/corrupt.jpg", b"\xff\xd8\xff\xe0" + b"garbage" * 100, "image/jpeg")
    site.add("/img/fake.jpg", "<html><body>not an image</body></html>", "image/jpeg")
    site.add("/img/bomb.png", _bomb(), "image/png")
    site.add("/img/private-only.jpg", works["china"], "image/jpeg")

    data_uri = "data:image/png;base64," + base64.b64encode(works["coffee"]).decode()
    site.add(
        "/site.css",
        ".hero{background-image:url(/img/k-stylesheet.jpg)}"
        ".badge::before{content:url('/img/k-pseudo.jpg')}"
        "@font-face{font-family:x;src:url(/fonts/x.woff)}",
        "text/css",
    )
    site.add(
        "/robots.txt",
        "User-agent: *\nDisallow: /private/\nSitemap: {base}/sitemap.xml\n",
        "text/plain",
    )
    site.add(
        "/sitemap.xml",
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>{base}/</loc></url><url><loc>{base}/hidden.html</loc></url></urlset>",
        "application/xml",
    )
    site.add(
        "/",
        """<html><head><title>Home</title></head><body>
        <h1>Gallery</h1><p>Welcome to our gallery of photographs.</p>
        <img src="/img/astronaut.jpg" id="hero-photo">
        <img src="/img/astronaut-edited.jpg"><img src="/img/flower.jpg">
        <img src="/img/corrupt.jpg"><img src="/img/fake.jpg"><img src="/img/bomb.png">
        <a href="/kinds.html">kinds</a> <a href="/list?page=1">list</a>
        <a href="/missing.html">dead</a> <a href="/challenge.html">c</a>
        <a href="/gone.html">gone</a> <a href="/private/secret.html">private</a>
        <a href="/old">old</a> <a href="/loop1">loop</a>
        <a href="http://10.255.255.1/internal.html">internal</a>
        <a href="https://elsewhere.invalid/">offsite</a>
        </body></html>""",
    )
    site.add(
        "/kinds.html",
        f"""<html><head><title>Kinds</title>
        <meta property="og:image" content="/img/k-og.jpg">
        <meta name="twitter:image" content="/img/k-twitter.jpg">
        <link rel="stylesheet" href="/site.css">
        <style>.tagged{{background:url("/img/k-style-tag.jpg") no-repeat}}</style>
        <script type="application/ld+json">
          {{"@type":"ImageObject","contentUrl":"/img/k-jsonld.jpg"}}
        </script>
        </head><body><p>Every way a page shows an image.</p>
        <img src="/img/k-img.jpg" width="100">
        <img src="/img/k-srcset-small.jpg"
             srcset="/img/k-srcset-small.jpg 300w, /img/k-srcset-large.jpg 900w" sizes="50px">
        <picture><source srcset="/img/k-picture.jpg"><img src="/img/k-img.jpg"></picture>
        <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="
             data-src="/img/k-lazy.jpg" class="lazyload">
        <div style="background-image:url('/img/k-style-attr.jpg');width:50px;height:50px"></div>
        <div class="tagged" style="width:50px;height:50px"></div>
        <div class="hero" style="width:50px;height:50px"></div>
        <span class="badge">x</span>
        <noscript><img src="/img/k-noscript.jpg"></noscript>
        <img src="/img/k-noext">
        <img src="{data_uri}" id="inline-data">
        <iframe src="/frame.html" width="200" height="200"></iframe>
        <div id="js-target"></div>
        <script>
          document.addEventListener('DOMContentLoaded', () => {{
            const i = document.createElement('img');
            i.src = '/img/k-' + 'js' + '.jpg';
            document.getElementById('js-target').appendChild(i);
          }});
        </script>
        <div style="height:3000px">spacer</div>
        <img id="io" data-name="lazy-io" width="10" height="10">
        <script>
          new IntersectionObserver((entries, obs) => {{
            for (const e of entries) if (e.isIntersecting) {{
              e.target.src = '/img/k-' + e.target.dataset.name + '.jpg';
              obs.unobserve(e.target);
            }}
          }}).observe(document.getElementById('io'));
        </script>
        </body></html>""",
    )
    site.add("/frame.html", '<html><body><img src="/img/k-iframe.jpg"></body></html>')
    site.add(
        "/hidden.html",
        "<html><head><title>Hidden</title></head><body><p>Only in the sitemap.</p>"
        '<img src="/img/china.jpg"></body></html>',
    )
    for n in (1, 2, 3):
        nxt = f'<a rel="next" href="/list?page={n + 1}">next</a>' if n < 3 else ""
        img = '<img src="/img/china.jpg">' if n == 3 else ""
        site.add(
            f"/list?page={n}",
            f"<html><head><title>List {n}</title></head><body><p>Listing page {n}"
            f" of our catalogue.</p>{img}{nxt}</body></html>",
        )
    site.add("/missing.html", "<html><title>Not Found</title></html>", status=404)
    site.add(
        "/challenge.html",
        "<html><head><title>Just a moment...</title></head><body>"
        '<div id="cf-chl-widget"></div><img src="/img/private-only.jpg"></body></html>',
        status=503,
    )
    site.add(
        "/gone.html",
        "<html><head><title>Page not found</title></head><body><h1>Sorry</h1>"
        '<img src="/img/private-only.jpg"></body></html>',
    )
    site.add("/private/secret.html", '<html><body><img src="/img/private-only.jpg"></body></html>')
    site.add("/old", "", status=301)
    site.add("/older", "", status=302)
    site.add("/loop1", "", status=302)
    site.add("/loop2", "", status=302)
    site.add(
        "/slow.html",
        "<html><head><title>Slow</title></head><body><p>This page never stops loading.</p>"
        '<img src="/img/astronaut.jpg"><img src="/img/never.jpg"></body></html>',
    )
    site.add("/img/never.jpg", b"", "image/jpeg")
    site.delays["/img/never.jpg"] = 60.0
    site.add(
        "/new.html", "<html><head><title>New</title></head><body><p>Moved here.</p></body></html>"
    )
    return site, works


_REDIRECTS = {"/old": "/older", "/older": "/new.html", "/loop1": "/loop2", "/loop2": "/loop1"}


def serve(site: Site) -> Callable[[], None]:
    """Serve ``site`` on 127.0.0.1 in a thread; returns the function that stops it."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            with site.lock:
                site.hits[self.path] += 1
                site.agents.add(self.headers.get("User-Agent", ""))
            delay = site.delays.get(self.path.split("?")[0], 0.0)
            if delay:
                time.sleep(delay)
            gate = site.gates.get(self.path.split("?")[0])
            if gate is not None:
                gate.wait(120)
            entry = site.files.get(self.path)
            if entry is None:
                self.send_response(404)
                body = b"<html><title>404 Not Found</title></html>"
                self.send_header("Content-Type", "text/html")
            else:
                status, ctype, body = entry
                body = body.replace(b"{base}", site.base.encode())
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                if self.path in _REDIRECTS:
                    self.send_header("Location", _REDIRECTS[self.path])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            # The crawler may give up (timeout) or be killed mid-response.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop
