"""An attacker's page on a "public" address that points a browser at an internal service.

127.0.0.2 plays the public site (allowed with ``--allow-network 127.0.0.2/32``) and
127.0.0.1 the internal service, which answers every request with a secret and counts the
requests it receives (its access log, on its side). The public page embeds an image, an
iframe, a stylesheet, a ``fetch`` and a WebSocket pointing at the internal service,
directly and through a 302 on the public host (and by the name ``localhost``, which
Chromium would otherwise never send through a proxy); ``/go`` is a top-level 302 to it.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

SECRET = "INTERNAL-SECRET-7f3a9c"


@dataclass
class AttackSite:
    public: str  # http://127.0.0.2:PORT
    internal: str  # http://127.0.0.1:PORT
    internal_hits: list[str] = field(default_factory=list)
    public_hits: list[str] = field(default_factory=list)


def page(internal: str, photo: bool) -> str:
    ws = internal.replace("http://", "ws://")
    img = "<img src='/photo.jpg' width='400'>" if photo else ""
    return f"""<!doctype html><html><head><title>Public gallery</title>
<link rel="stylesheet" href="{internal}/direct.css">
<link rel="stylesheet" href="/r/redirect.css">
</head><body><h1>Public gallery</h1>{img}
<img src="{internal}/direct.png"><img src="/r/redirect.png">
<img src="{internal.replace("127.0.0.1", "localhost")}/localhost.png">
<iframe src="{internal}/direct-frame"></iframe><iframe src="/r/redirect-frame"></iframe>
<a href="/go">more</a>
<script>
fetch("{internal}/direct-fetch").catch(() => 0);
fetch("/r/redirect-fetch").catch(() => 0);
try {{ new WebSocket("{ws}/direct-ws"); }} catch (e) {{}}
try {{ new WebSocket("{ws.replace("127.0.0.1", "localhost")}/localhost-ws"); }} catch (e) {{}}
</script></body></html>"""


@contextmanager
def attack_site(photo: bytes | None = None) -> Iterator[AttackSite]:
    """Both servers on ephemeral ports; ``photo`` (JPEG bytes) is shown on the page."""
    site = AttackSite(public="", internal="")

    class Internal(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            site.internal_hits.append(self.path)
            body = f"<html><body>{SECRET}</body></html>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Public(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            site.public_hits.append(self.path)
            if self.path.startswith("/r/"):
                self._redirect(f"{site.internal}/{self.path[3:]}")
            elif self.path == "/go":
                self._redirect(f"{site.internal}/top-level")
            elif self.path == "/photo.jpg" and photo is not None:
                self._send(photo, "image/jpeg")
            elif self.path in ("/", "/index.html"):
                self._send(page(site.internal, photo is not None).encode(), "text/html")
            elif self.path == "/robots.txt":
                self._send(b"User-agent: *\nAllow: /\n", "text/plain")
            else:
                self.send_error(404)

        def _redirect(self, to: str) -> None:
            self.send_response(302)
            self.send_header("Location", to)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _send(self, body: bytes, ctype: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    internal = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Internal)
    public = http.server.ThreadingHTTPServer(("127.0.0.2", 0), Public)
    site.internal = f"http://127.0.0.1:{internal.server_address[1]}"
    site.public = f"http://127.0.0.2:{public.server_address[1]}"
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (internal, public)]
    for t in threads:
        t.start()
    try:
        yield site
    finally:
        for s in (internal, public):
            s.shutdown()
            s.server_close()
