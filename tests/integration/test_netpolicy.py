"""One address policy for every request: the crawl, render mode and the capture browser.

As an attacker would try it, on loopback only: 127.0.0.2 is the "public" site (allowed
with ``--allow-network 127.0.0.2/32``) and 127.0.0.1 the internal service, whose secret
must end up nowhere and which counts every request it receives. The public page embeds an
image, an iframe, a stylesheet, a ``fetch`` and WebSockets aimed at the internal service,
directly, through a 302 on the public host and by the name ``localhost``; ``/go`` is a
top-level 302 to it (see ``attack_site.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import http.server
import io
import json
import os
import socket
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from copyseal.capture import BrowserSession, Capture, capture_page, capture_page_sync
from copyseal.errors import CaptureError
from copyseal.netpolicy import AddressPolicy
from copyseal.workspace import init_workspace

from .attack_site import SECRET, AttackSite, attack_site

pytestmark = pytest.mark.browser

ALLOW = ("--allow-network", "127.0.0.2/32")


@pytest.fixture(scope="module")
def site(photos: dict[str, np.ndarray]) -> Iterator[AttackSite]:
    out = io.BytesIO()
    Image.fromarray(photos["astronaut"]).save(out, format="JPEG", quality=90)
    with attack_site(photo=out.getvalue()) as s:
        yield s


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, np.ndarray]) -> Path:
    """A workspace with the astronaut photo registered."""
    root = tmp_path_factory.mktemp("netpolicy")
    works = root / "works"
    works.mkdir()
    Image.fromarray(photos["astronaut"]).save(works / "astronaut.jpg", quality=95)
    init_workspace(root / "ws")
    cfg = root / "ws" / "config.yaml"
    done = cli(cfg, "register", str(works), "--json")
    assert done.returncode == 0, done.stderr
    return cfg


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    return subprocess.run(
        [sys.executable, "-m", "copyseal", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def crawl(config: Path, site: AttackSite, *extra: str) -> dict[str, Any]:
    done = cli(
        config,
        "--set",
        "crawl.autothrottle=false",
        "--set",
        "crawl.settle_timeout=2",
        "crawl",
        site.public + "/",
        *ALLOW,
        "--no-progress",
        "--json",
        *extra,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def texts(folder: Path) -> Iterator[tuple[str, bytes]]:
    """Every file of a bundle folder, and every member of its zips (WACZ) and gzips
    (WARC), as bytes."""

    def expand(name: str, data: bytes) -> Iterator[tuple[str, bytes]]:
        yield name, data
        if data[:2] == b"\x1f\x8b":
            yield from expand(name + "!gunzip", _gunzip_members(data))
        elif data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for member in z.namelist():
                    yield from expand(f"{name}!{member}", z.read(member))

    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield from expand(str(path.relative_to(folder)), path.read_bytes())


def _gunzip_members(data: bytes) -> bytes:
    out = b""
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as g:
        out = g.read()
    return out


def assert_no_secret(folder: Path) -> list[str]:
    names = []
    for name, data in texts(folder):
        names.append(name)
        assert SECRET.encode() not in data, f"the internal secret is in {name}"
    return names


def refused_targets(capture_json: dict[str, Any]) -> set[str]:
    refused = capture_json["facts"]["network"]["address_policy"]["refused"]
    return {r["target"] for r in refused}


def capture_json_of(bundle: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (bundle / "data" / "capture" / "capture.json").read_text(encoding="utf-8")
    )
    return data


def check_internal_untouched(site: AttackSite, before: int) -> None:
    assert site.internal_hits[before:] == [], "the internal service was reached"


def assert_go_refused(result: dict[str, Any], site: AttackSite) -> None:
    skipped = result["page_reason_examples"]["skipped"]["private-address"]
    assert site.public + "/go" in skipped, skipped
    assert result["page_reasons"]["skipped"]["private-address"] >= 2  # /go and iframes


def test_static_crawl_and_the_capture_after_a_match(config: Path, site: AttackSite) -> None:
    before = len(site.internal_hits)
    result = crawl(config, site, "--capture")
    check_internal_untouched(site, before)
    # The public page was crawled, its photo matched and the page sealed.
    assert [m["image_url"] for m in result["matches"]] == [site.public + "/photo.jpg"]
    [sealed] = result["sealed"]
    assert sealed["error"] is None, sealed
    # Every pointer at the internal service was refused and recorded with its reason:
    # the top-level 302 (/go) and the iframes as pages, the images as images.
    assert_go_refused(result, site)
    assert result["image_reasons"]["skipped"]["private-address"] >= 2
    bundle = Path(sealed["bundle"]["path"])
    names = assert_no_secret(bundle)
    assert any(n.endswith(".warc.gz") or ".warc" in n for n in names), names
    facts = capture_json_of(bundle)
    refused = refused_targets(facts)
    internal = site.internal.removeprefix("http://")
    for path in ("direct.png", "redirect.png", "direct.css", "direct-frame", "direct-fetch"):
        assert f"{site.internal}/{path}" in refused, (path, refused)
    assert f"{internal}" in refused  # the WebSocket's CONNECT
    assert any(t.startswith("localhost:") or "//localhost:" in t for t in refused)
    # The server recorded is the site's, not the proxy's.
    server = facts["facts"]["network"]["server"]
    assert server == {"ip": "127.0.0.2", "port": int(site.public.rsplit(":", 1)[1])}


def test_render_crawl_refuses_sub_resources_and_a_top_level_redirect(
    config: Path, site: AttackSite
) -> None:
    before = len(site.internal_hits)
    result = crawl(config, site, "--render", "--no-capture")
    check_internal_untouched(site, before)
    assert [m["image_url"] for m in result["matches"]] == [site.public + "/photo.jpg"]
    # /go redirects (a top-level 302) to the internal service: refused, not "done".
    assert_go_refused(result, site)
    assert result["page_status"].get("done", 0) >= 1
    # What the browser tried and the egress proxy refused is in the job's statistics.
    assert result["stats"]["copyseal/egress_refused"] >= 5
    refused = result["stats"]["copyseal/egress_refused_targets"]
    assert f"{site.internal}/redirect-frame" in refused or f"{site.internal}/direct.png" in refused


def test_capture_url_obeys_the_policy(config: Path, site: AttackSite) -> None:
    before = len(site.internal_hits)
    done = cli(config, "capture", site.public + "/", *ALLOW, "--json")
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    bundle = Path(outcome["bundle"]["path"])
    assert_no_secret(bundle)
    assert f"{site.internal}/redirect-frame" in refused_targets(capture_json_of(bundle))
    check_internal_untouched(site, before)


def test_capture_refuses_a_top_level_redirect_and_internal_urls(
    site: AttackSite, tmp_path: Path
) -> None:
    before = len(site.internal_hits)
    allowed = AddressPolicy.build(networks=["127.0.0.2/32"])
    # Refused before any browser starts: the internal address, and the public one
    # without --allow-network (127.0.0.2 is loopback like any other).
    with pytest.raises(CaptureError, match=r"refused: .*127\.0\.0\.1 is loopback"):
        capture_page_sync(site.internal + "/", tmp_path / "internal", policy=allowed)
    with pytest.raises(CaptureError, match=r"refused: .*127\.0\.0\.2 is loopback"):
        capture_page_sync(site.public + "/", tmp_path / "public")
    # Matched images the capture downloads itself (Playwright's request context, not
    # Chromium) go through the egress proxy too, redirects included.
    targets = [site.internal + "/target.png", site.public + "/r/target.png"]

    async def run() -> Capture:
        async with BrowserSession(policy=allowed) as session:
            with pytest.raises(CaptureError, match=r"redirected to .*/top-level, refused: "):
                await capture_page(site.public + "/go", tmp_path / "go", session=session)
            return await capture_page(
                site.public + "/", tmp_path / "ok", session=session, targets=targets
            )

    done = asyncio.run(run())
    assert not any((tmp_path / p).exists() for p in ("go", "internal", "public"))
    assert [t.get("image") for t in done.facts["targets"]] == [None, None]
    # The proxy answers 403; the error names the target whatever Playwright makes of it.
    assert any(e.startswith(f"image {site.internal}/target.png ") for e in done.errors)
    assert_no_secret(done.folder)
    check_internal_untouched(site, before)


def test_an_invalid_cidr_is_named_by_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from copyseal.cli import main

    args = ["capture", "http://127.0.0.2/", "--out", str(tmp_path), "--allow-network", "10.0.0.1/8"]
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code != 0
    err = capsys.readouterr().err
    assert "--allow-network" in err and "'10.0.0.1/8' is not a network" in err
    assert list(tmp_path.iterdir()) == []


def test_webrtc_sends_no_udp_past_the_proxy(site: AttackSite) -> None:
    """A page's ICE (STUN) requests would go straight to the address it names over UDP:
    ``--webrtc-ip-handling-policy=disable_non_proxied_udp`` keeps them off the network."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.2)
    stun = f"stun:127.0.0.1:{udp.getsockname()[1]}"
    allowed = AddressPolicy.build(networks=["127.0.0.2/32"])

    async def run() -> str:
        async with BrowserSession(policy=allowed) as session:
            context, page = await session.new_page(viewport=(800, 600))
            try:
                await page.goto(site.public + "/robots.txt")
                state: str = await page.evaluate(
                    """async (stun) => {
                        const pc = new RTCPeerConnection({iceServers: [{urls: stun}]});
                        pc.createDataChannel("x");
                        await pc.setLocalDescription(await pc.createOffer());
                        await new Promise((done) => setTimeout(done, 2500));
                        return pc.iceGatheringState;
                    }""",
                    stun,
                )
                return state
            finally:
                await context.close()

    with udp:
        state = asyncio.run(run())
        received = []
        with contextlib.suppress(TimeoutError):
            while True:
                received.append(udp.recvfrom(2048))
    assert state in ("gathering", "complete")  # ICE ran; it only had no UDP to use
    assert received == [], f"STUN datagrams reached 127.0.0.1: {received[:3]}"


def test_an_environment_proxy_does_not_void_the_crawl_pin(config: Path, site: AttackSite) -> None:
    """Scrapy's HttpProxyMiddleware would send every request to ``http_proxy``, which
    resolves and connects as it likes; the crawl connects to the checked address itself."""
    proxied: list[str] = []

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            proxied.append(self.requestline)
            body = b"<html><body>VIA-PROXY</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.2", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proxy = f"http://127.0.0.2:{server.server_address[1]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    env.update(http_proxy=proxy, HTTP_PROXY=proxy, https_proxy=proxy, no_proxy="")
    try:
        done = subprocess.run(
            [
                *(sys.executable, "-m", "copyseal", "--config", str(config)),
                *("--set", "crawl.autothrottle=false", "crawl", site.public + "/", *ALLOW),
                *("--no-progress", "--json", "--no-capture"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            check=False,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert proxied == []
    assert [m["image_url"] for m in result["matches"]] == [site.public + "/photo.jpg"]
