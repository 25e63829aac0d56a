"""The review app in a real browser: log in, review, build a case, download the export.

Playwright drives Debian's Chromium against the app served on 127.0.0.1 over a copy of
the shared review world (real works, a real crawl, real sealed bundles). Screenshots of
the key pages are saved in the test's temporary folder.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from copyseal.bundle import verify_bundle
from copyseal.workspace import Workspace

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def _world() -> ModuleType:
    name = "copyseal_tests_world"
    if name not in sys.modules:
        path = Path(__file__).parents[1] / "unit" / "review" / "world.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


W = _world()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Workspace]]:
    world = W.build_world(tmp_path_factory)
    ws: Workspace = W.copy_workspace(world, tmp_path_factory.mktemp("browser") / "ws")
    with W.serve_app(ws) as base:
        yield base, ws
    ws.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def test_review_to_export_in_a_browser(
    app: tuple[str, Workspace], browser: Any, tmp_path: Path
) -> None:
    base, ws = app
    shots = tmp_path / "screenshots"
    shots.mkdir()
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        # Every page but the login needs a session.
        page.goto(f"{base}/queue?site=127.0.0.1&status=new")
        assert page.url.startswith(f"{base}/login?next=")
        page.screenshot(path=str(shots / "login.png"))
        page.fill("input[name=name]", "alice")
        page.fill("input[name=password]", W.PASSWORDS["alice"][1])
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/queue\?site=127\.0\.0\.1&status=new$"))
        rows = page.locator("table.queue tr td:first-child a")
        pending = rows.count()
        assert pending >= 1
        assert page.locator(".counts a.on b").inner_text() == str(pending)
        page.screenshot(path=str(shots / "queue.png"), full_page=True)

        # Open a match: both images, the overlay, the outlined page, the live badge.
        rows.first.click()
        page.wait_for_url(re.compile(r".*/matches/\d+.*"))
        badge = page.locator("#badge")
        assert "verified against the ledger now" in badge.inner_text()
        for alt in ("registered work", "found image", "overlay", "close-up of the page"):
            loaded = page.locator(f"img[alt='{alt}']").evaluate(
                "img => img.complete && img.naturalWidth > 0"
            )
            assert loaded, alt
        assert "No decision yet" in page.locator("#history").inner_text()
        page.screenshot(path=str(shots / "match.png"), full_page=True)

        # Confirm with the keyboard; then the next ones with n, c.
        confirmed = 0
        while True:
            page.keyboard.press("c")
            page.wait_for_selector("p.flash")
            history = page.locator("#history").inner_text()
            assert "confirmed" in history and "alice" in history
            assert "verified against the ledger now" in page.locator("#badge").inner_text()
            confirmed += 1
            if confirmed == 1:
                page.screenshot(path=str(shots / "match-confirmed.png"), full_page=True)
            if page.locator("#next").count() == 0:
                break
            page.keyboard.press("n")
            page.wait_for_load_state()
            page.wait_for_selector("#history")
        assert confirmed == pending

        # Build a case for the domain, and export it.
        page.goto(f"{base}/cases")
        section = page.locator("section.site", has_text="127.0.0.1")
        section.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r".*/cases/case-[0-9a-f]+\?flash=case$"))
        case_id = page.url.split("/cases/")[1].split("?")[0]
        assert page.locator("table.queue tr").count() == pending + 1
        page.fill("input[name=recipient]", "Counsel <b>for</b> Jane")
        page.click("#export-form button")
        page.wait_for_selector("a.download")
        assert "Counsel <b>for</b> Jane" in page.locator("table.exports").inner_text()
        page.screenshot(path=str(shots / "case.png"), full_page=True)
        with page.expect_download() as info:
            page.click("a.download")
        download = tmp_path / "case.zip"
        info.value.save_as(str(download))

        # An admin adds a crawl target with a schedule; the dashboard lists the schedule.
        page.goto(f"{base}/targets")
        page.click("#add-target")
        page.fill("input[name=name]", "mirror-site")
        page.fill("textarea[name=urls]", "http://127.0.0.1:9/gallery/")
        page.fill("input[name=cron]", "0 5 * * *")
        page.click("form.targetform button[type=submit]")
        page.wait_for_url(re.compile(r".*/targets/mirror-site\?flash=target$"))
        facts = page.locator("table.facts").inner_text()
        assert "http://127.0.0.1:9/gallery/" in facts and "0 5 * * *" in facts
        assert "created" in page.locator("table.history").inner_text()
        page.screenshot(path=str(shots / "target.png"), full_page=True)

        page.goto(f"{base}/")
        assert page.locator("svg.chart").count() >= 2
        assert page.locator("a[href='/targets/mirror-site']").count() == 1
        page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    finally:
        context.close()
    assert errors == []

    data = download.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        doc = json.loads(zf.read(f"{case_id}/case.json"))
        assert len(doc["matches"]) == pending
        vkey = ws.ledger().vkey()
        for b in doc["bundles"]:
            inner = tmp_path / f"{b['bundle_id']}.zip"
            inner.write_bytes(zf.read(f"{case_id}/{b['path']}"))
            assert verify_bundle(inner, vkey=vkey).ok
    for name in ("login", "queue", "match", "match-confirmed", "case", "target", "dashboard"):
        assert (shots / f"{name}.png").stat().st_size > 10_000, name
