"""Capturing pages of a local site (HTTP and HTTPS on 127.0.0.1) with the real Chromium."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import hashlib
import http.server
import io
import ipaddress
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from PIL import Image
from warcio.archiveiterator import ArchiveIterator

from copyseal.capture import Box, BrowserSession, Capture, CaptureOptions, Target, capture_page
from copyseal.errors import CaptureError
from copyseal.netpolicy import AddressPolicy

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
VENV_BIN = Path(sys.executable).parent
T = TypeVar("T")

if not CHROMIUM.exists():  # pragma: no cover - the machine has it
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)


# -- the local site --------------------------------------------------------------------
def _jpeg(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _photos() -> dict[str, bytes]:
    import skimage.data

    return {
        "astronaut": _jpeg(skimage.data.astronaut()),
        "coffee": _jpeg(skimage.data.coffee()),
        "chelsea": _jpeg(skimage.data.chelsea()),
        "rocket": _jpeg(skimage.data.rocket()),
    }


PHOTOS = _photos()
STYLE = b".bg { background-image: url('/img/chelsea.jpg'); background-size: cover; }\n"
PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>Copy of my photos</title>
<link rel="stylesheet" href="/style.css"></head>
<body style="margin:0">
<img id="astro" src="/img/astronaut.jpg" alt="astronaut"
     style="position:absolute; left:20px; top:40px; width:256px; height:256px">
<img id="coffee" src="/img/coffee.jpg" alt="coffee"
     style="position:absolute; left:320px; top:40px; width:300px; height:200px">
<div class="bg" id="cat"
     style="position:absolute; left:20px; top:340px; width:300px; height:200px"></div>
<div style="height:2600px"></div>
<img id="lazy" loading="lazy" src="/img/rocket.jpg" alt="rocket" style="width:200px">
<script>
  const p = document.createElement('p'); p.id = 'js-added'; p.textContent = 'added by script';
  document.body.appendChild(p);
</script>
</body></html>
"""
PLAIN = (
    b"<!doctype html><html><head><title>plain</title></head><body><p>plain page</p></body></html>"
)
POLL = b"""<!doctype html><html><head><title>busy</title></head><body><p>never quiet</p>
<script>setInterval(() => fetch('/tick?' + Math.random()), 100);</script></body></html>"""


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _send(
        self, status: int, body: bytes, ctype: str, extra: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/r1":
            self._send(301, b"", "text/plain", (("Location", "/r2"),))
        elif path == "/r2":
            self._send(302, b"", "text/plain", (("Location", "/page.html"),))
        elif path == "/page.html":
            self._send(
                200,
                gzip.compress(PAGE),
                "text/html; charset=utf-8",
                (("Content-Encoding", "gzip"),),
            )
        elif path == "/plain.html":
            self._send(200, PLAIN, "text/html")
        elif path == "/poll.html":
            self._send(200, POLL, "text/html")
        elif path == "/tick":
            time.sleep(0.05)
            self._send(200, b"tick", "text/plain")
        elif path == "/style.css":
            self._send(200, STYLE, "text/css")
        elif path.startswith("/img/") and path[5:-4] in PHOTOS:
            self._send(200, PHOTOS[path[5:-4]], "image/jpeg")
        elif path == "/hang":
            time.sleep(6)
            self._send(200, PLAIN, "text/html")
        else:
            self._send(404, b"not found", "text/plain")


def _serve(server: http.server.ThreadingHTTPServer) -> Iterator[str]:
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    scheme = "https" if isinstance(server.socket, ssl.SSLSocket) else "http"
    yield f"{scheme}://{host!s}:{port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    yield from _serve(http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler))


def _self_signed(folder: Path) -> tuple[Path, Path, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "copyseal test site")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path, cert.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="session")
def tls_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, bytes]]:
    cert, key, der = _self_signed(tmp_path_factory.mktemp("tls"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    for base in _serve(server):
        yield base, der


# -- one browser for the session -------------------------------------------------------
class _Browser:
    """A started session and the loop it lives on (no pytest-asyncio needed)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.session = BrowserSession(
            executable=CHROMIUM,
            settings_digest="ab" * 32,
            policy=AddressPolicy(allow_private=True),  # the site is on loopback
        )
        self.loop.run_until_complete(self.session.start())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def capture(self, url: str, dest: Path, **kwargs: Any) -> Capture:
        return self.run(capture_page(url, dest, session=self.session, **kwargs))

    def close(self) -> None:
        self.loop.run_until_complete(self.session.close())
        self.loop.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[_Browser]:
    b = _Browser()
    yield b
    b.close()


@pytest.fixture(scope="module")
def main_capture(browser: _Browser, site: str, tmp_path_factory: pytest.TempPathFactory) -> Capture:
    dest = tmp_path_factory.mktemp("captures") / "main"
    return browser.capture(
        f"{site}/r1",
        dest,
        targets=[
            f"{site}/img/astronaut.jpg",
            Target(url="/img/chelsea.jpg", label="cat"),
            Target(box=Box(x=320, y=40, width=300, height=200), label="coffee by box"),
        ],
    )


def _warc_records(capture: Capture) -> list[tuple[Any, bytes]]:
    with zipfile.ZipFile(capture.path("wacz")) as z:
        member = capture.facts["warc"]["in_wacz"]
        data = z.read(member)
    out = []
    for record in ArchiveIterator(io.BytesIO(data), check_digests="raise"):
        out.append((record, record.content_stream().read()))
    return out


# -- the main page ---------------------------------------------------------------------
def test_folder_lists_every_file_with_its_hash(main_capture: Capture) -> None:
    folder = main_capture.folder
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {
        "capture.json"
    }
    assert on_disk == {a.path for a in main_capture.artefacts}
    for a in main_capture.artefacts:
        data = (folder / a.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == a.sha256, a.path
        assert len(data) == a.size
    assert [p.name for p in folder.parent.iterdir()] == ["main"]  # no staging folder left
    summary = json.loads((folder / "capture.json").read_text(encoding="utf-8"))
    assert summary["artefacts"] == [a.to_json() for a in main_capture.artefacts]
    assert main_capture.errors == ()


def test_wacz_validates_and_lists_the_page(main_capture: Capture) -> None:
    done = subprocess.run(
        [str(VENV_BIN / "wacz"), "validate", "-f", str(main_capture.path("wacz"))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the passed WACZ is valid" in done.stdout
    with zipfile.ZipFile(main_capture.path("wacz")) as z:
        pages = [json.loads(x) for x in z.read("pages/pages.jsonl").splitlines()[1:]]
    assert [p["url"] for p in pages] == [main_capture.final_url]
    page_date = main_capture.facts["warc"]["page_date"]
    assert pages[0]["ts"] == page_date.split(".")[0] + "Z"
    assert pages[0]["id"] == main_capture.capture_id


def test_warc_has_every_exchange_with_digests_and_ip(main_capture: Capture, site: str) -> None:
    records = _warc_records(main_capture)
    responses = {
        r.rec_headers.get_header("WARC-Target-URI"): (r, body)
        for r, body in records
        if r.rec_type == "response"
    }
    requests = [r for r, _ in records if r.rec_type == "request"]
    for path in ("/r1", "/r2", "/page.html", "/style.css"):
        assert f"{site}{path}" in responses
    for name in ("astronaut", "coffee", "chelsea", "rocket"):  # rocket is the lazy one
        rec, body = responses[f"{site}/img/{name}.jpg"]
        assert body == PHOTOS[name]
        assert rec.rec_headers.get_header("WARC-Payload-Digest") == (
            "sha256:" + hashlib.sha256(body).hexdigest()
        )
    assert len(requests) == len(responses)
    for rec, _ in responses.values():
        assert rec.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"
        assert rec.rec_headers.get_header("WARC-Protocol") == "http/1.1"
    # The gzip-encoded page: stored decoded, and the WARC says so.
    page, body = responses[f"{site}/page.html"]
    assert body == PAGE
    assert page.rec_headers.get_header("WARC-Copyseal-Decoded").startswith("content-encoding=gzip")
    assert page.http_headers.get_header("X-Archive-Orig-Content-Encoding") == "gzip"
    assert page.http_headers.get_header("Content-Encoding") is None
    assert page.http_headers.get_header("Content-Length") == str(len(PAGE))
    assert page.http_headers.get_header("X-Archive-Orig-Content-Length") == str(
        len(gzip.compress(PAGE))
    )
    assert page.rec_headers.get_header("WARC-Date") == main_capture.facts["warc"]["page_date"]
    redirect, _ = responses[f"{site}/r1"]
    assert redirect.http_headers.get_statuscode() == "301"
    assert redirect.rec_headers.get_header("WARC-Copyseal-Decoded") is None


def test_warc_holds_screenshots_and_capture_facts(main_capture: Capture) -> None:
    records = _warc_records(main_capture)
    resources = {
        r.rec_headers.get_header("WARC-Target-URI"): body
        for r, body in records
        if r.rec_type == "resource"
    }
    full = resources[f"urn:copyseal:screenshot-full:{main_capture.final_url}"]
    assert full == main_capture.path("screenshot-full").read_bytes()
    assert f"urn:copyseal:closeup:01:{main_capture.final_url}" in resources
    metadata = [(r, body) for r, body in records if r.rec_type == "metadata"]
    assert len(metadata) == 1
    head, body = metadata[0]
    # Its own URI (a replay tool looking up the page's URL must find the response), and
    # a pointer to the record and URL it describes.
    uri = head.rec_headers.get_header("WARC-Target-URI")
    assert uri == f"urn:copyseal:capture-facts:{main_capture.final_url}"
    assert head.rec_headers.get_header("WARC-Refers-To-Target-URI") == main_capture.final_url
    assert head.rec_headers.get_header("WARC-Refers-To", "").startswith("<urn:uuid:")
    facts = json.loads(body)
    assert facts["capture_id"] == main_capture.capture_id
    assert facts["network"]["server"]["ip"] == "127.0.0.1"
    assert records[0][0].rec_type == "warcinfo"


def test_screenshots_are_pngs_of_plausible_size(main_capture: Capture) -> None:
    with Image.open(main_capture.path("screenshot-viewport")) as im:
        assert im.format == "PNG"
        assert im.size == (1280, 800)
    with Image.open(main_capture.path("screenshot-full")) as im:
        assert im.format == "PNG"
        assert im.size[0] == 1280
        assert 2700 <= im.size[1] <= 3000  # 2600 px spacer + lazy rocket + a paragraph
        # The astronaut is at (20, 40): not white there.
        assert np.asarray(im.convert("RGB"))[150, 150].tolist() != [255, 255, 255]


def test_raw_html_is_what_the_server_sent_and_dom_is_after_scripts(main_capture: Capture) -> None:
    raw = main_capture.path("raw-html").read_bytes()
    assert raw == PAGE
    dom = main_capture.path("dom").read_text(encoding="utf-8")
    assert 'id="js-added"' in dom
    assert b"js-added" in raw and b'id="js-added"' not in raw


def test_matched_images_are_kept_byte_for_byte(main_capture: Capture) -> None:
    images = [a for a in main_capture.artefacts if a.role == "image"]
    assert [a.path for a in images] == ["images/01.jpg", "images/02.jpg"]
    assert (main_capture.folder / "images/01.jpg").read_bytes() == PHOTOS["astronaut"]
    assert (main_capture.folder / "images/02.jpg").read_bytes() == PHOTOS["chelsea"]
    assert main_capture.facts["targets"][0]["image"]["source"] == "page load"


def _mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


def test_closeup_outlines_the_right_element(main_capture: Capture) -> None:
    target = main_capture.facts["targets"][0]
    assert target["located"]["found_by"] == "currentSrc"
    assert target["located"]["element"]["tag"] == "img"
    box = target["located"]["box"]
    assert box == {"x": 20, "y": 40, "width": 256, "height": 256}
    clip = target["closeup"]["clip"]
    with Image.open(main_capture.folder / target["closeup"]["path"]) as im:
        pixels = np.asarray(im.convert("RGB"))
    assert pixels.shape[:2] == (round(clip["height"]), round(clip["width"]))
    bx, by = int(box["x"] - clip["x"]), int(box["y"] - clip["y"])
    # The red frame sits just outside the box on all four sides.
    for x, y in (
        (bx - 2, by + 128),
        (bx + 256 + 1, by + 128),
        (bx + 128, by - 2),
        (bx + 128, by + 257),
    ):
        assert pixels[y, x].tolist() == [255, 0, 0], (x, y)
    inside = pixels[by + 8 : by + 248, bx + 8 : bx + 248]
    import skimage.data
    from skimage.transform import resize

    def shown(name: str) -> np.ndarray:
        img = getattr(skimage.data, name)()
        return (resize(img, (256, 256), anti_aliasing=True) * 255)[8:248, 8:248]

    assert _mean_abs(inside, shown("astronaut")) < 12
    assert _mean_abs(inside, shown("coffee")) > 40


def test_background_image_and_box_targets(main_capture: Capture) -> None:
    cat, by_box = main_capture.facts["targets"][1], main_capture.facts["targets"][2]
    assert cat["located"]["found_by"] == "background-image"
    assert cat["located"]["box"] == {"x": 20, "y": 340, "width": 300, "height": 200}
    assert cat["label"] == "cat"
    assert by_box["located"]["found_by"] == "given box"
    assert "image" not in by_box  # no URL: nothing to download
    assert (main_capture.folder / by_box["closeup"]["path"]).is_file()


def test_network_facts_of_an_http_page(main_capture: Capture, site: str) -> None:
    net = main_capture.facts["network"]
    assert [h["status"] for h in net["redirect_chain"]] == [301, 302, 200]
    assert [h["location"] for h in net["redirect_chain"]] == ["/r2", "/page.html", None]
    assert net["server"] == {"ip": "127.0.0.1", "port": int(site.rsplit(":", 1)[1])}
    assert net["dns"]["answers"] == [{"family": "IPv4", "address": "127.0.0.1"}]
    assert net["dns"]["includes_server_ip"] is True
    assert net["tls"]["used"] is False
    assert "no TLS" in net["tls"]["reason"]
    assert net["protocol"] == "http/1.1"
    assert net["requests"]["bodies_decoded_by_browser"] == 1


def test_environment_facts(main_capture: Capture) -> None:
    env = main_capture.facts["environment"]
    binary = env["browser"]["binary"]
    assert binary["hashed_file"] == "/usr/lib/chromium/chromium"
    assert len(binary["sha256"]) == 64 and "wrapper" in binary["note"]
    assert env["browser"]["version"].split(".")[0].isdigit()
    assert env["config_sha256"] == "ab" * 32
    assert env["software"]["packages"]["warcio"]
    assert env["clock"]["at_start"]["ntp"] is None
    assert env["browser_context"]["service_workers"] == "blocked"
    assert "HeadlessChrome" in env["user_agent"]


# -- TLS -------------------------------------------------------------------------------
def test_https_page_records_tls_and_the_certificate_chain(
    browser: _Browser, tls_site: tuple[str, bytes], tmp_path: Path
) -> None:
    base, der = tls_site
    capture = browser.capture(
        f"{base}/plain.html",
        tmp_path / "tls",
        options=CaptureOptions(ignore_https_errors=True),
    )
    tls = capture.facts["network"]["tls"]
    assert tls["used"] is True
    assert tls["protocol"] == "TLS 1.3"
    assert tls["cipher"]
    assert tls["certificate_errors_ignored"] is True
    assert tls["subject"] == "copyseal test site"
    assert [ssl.PEM_cert_to_DER_cert(p) for p in tls["chain_pem"]] == [der]
    probe = capture.facts["network"]["tls_probe"]
    assert probe["trusted_by_system_store"] is False
    assert "self-signed" in probe["verify_error"] or "self signed" in probe["verify_error"]
    records = _warc_records(capture)
    response = next(r for r, _ in records if r.rec_type == "response")
    protocols = [v for n, v in response.rec_headers.headers if n == "WARC-Protocol"]
    assert protocols == ["http/1.1", "tls/1.3"]


def test_untrusted_certificate_fails_without_the_flag(
    browser: _Browser, tls_site: tuple[str, bytes], tmp_path: Path
) -> None:
    base, _ = tls_site
    with pytest.raises(CaptureError, match=r"failed to load: .*ERR_CERT"):
        browser.capture(f"{base}/plain.html", tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


# -- failures --------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_dead_server_is_a_clear_error_and_leaves_nothing(browser: _Browser, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}/"
    # Behind the egress proxy the refused connection is the proxy's to report.
    with pytest.raises(CaptureError, match=r"failed to load: cannot connect to .*refused") as info:
        browser.capture(url, tmp_path / "dead")
    assert url in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_page_that_never_loads_times_out(browser: _Browser, site: str, tmp_path: Path) -> None:
    t0 = time.monotonic()
    with pytest.raises(CaptureError, match=r"/hang: the page did not load within 1\.5 s"):
        browser.capture(f"{site}/hang", tmp_path / "hang", options=CaptureOptions(load_timeout=1.5))
    assert time.monotonic() - t0 < 10
    assert list(tmp_path.iterdir()) == []


def test_http_error_status_is_a_failed_load(browser: _Browser, site: str, tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="answered HTTP 404 Not Found"):
        browser.capture(f"{site}/missing.html", tmp_path / "missing")
    assert list(tmp_path.iterdir()) == []


def test_page_that_never_settles_is_captured_with_a_note(
    browser: _Browser, site: str, tmp_path: Path
) -> None:
    t0 = time.monotonic()
    capture = browser.capture(
        f"{site}/poll.html",
        tmp_path / "busy",
        options=CaptureOptions(settle_timeout=1.5),
    )
    assert time.monotonic() - t0 < 20
    assert capture.facts["page"]["settled"] is False
    assert any("did not settle within 1.5 s" in e for e in capture.errors)
    assert capture.path("wacz").is_file()


def test_existing_destination_is_refused(browser: _Browser, site: str, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(CaptureError, match="exists already"):
        browser.capture(f"{site}/plain.html", tmp_path / "taken")


def test_only_http_urls(browser: _Browser, tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="only http:// and https://"):
        browser.capture("file:///etc/passwd", tmp_path / "f")


# -- the command -----------------------------------------------------------------------
def test_cli_capture_json(site: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "copyseal",
            "capture",
            f"{site}/plain.html",
            "--out",
            str(tmp_path / "out"),
            "--allow-private",
            "--image",
            f"{site}/img/coffee.jpg",
            "--json",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    folder = Path(data["folder"])
    assert folder.parent == tmp_path / "out" and folder.name == data["capture_id"]
    assert {a["role"] for a in data["artefacts"]} >= {"wacz", "raw-html", "dom", "image"}
    assert data["final_url"] == f"{site}/plain.html"
    # coffee.jpg is not on plain.html: it was fetched separately, and the capture says so.
    assert data["facts"]["targets"][0]["image"]["source"].startswith("fetched by copyseal")
    assert any("was not found on the page" in e for e in data["errors"])
    assert data["facts"]["environment"]["user_agent"].startswith("copyseal/")
    assert (folder / "images" / "01.jpg").read_bytes() == PHOTOS["coffee"]
