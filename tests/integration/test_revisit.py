"""Re-visits on a local site whose pages change between visits (real Chromium, SQLite).

One module-scoped site and workspace: seven pages each show one registered photo, found and
sealed once through the pipeline (:func:`seed_matches`); then the site changes (a copy
kept, re-cropped, moved to another page, removed, a page deleted, a challenge page, a
picture only announced as the page's ``og:image``) and ``copyseal revisit --json`` visits
them all. Then the server dies during a visit (no
bundle, an error row, and the next run visits again), and a page hangs (bounded).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from copyseal.config import load_settings
from copyseal.workspace import init_workspace

pytestmark = pytest.mark.browser

_PAGES = {
    "keep": "astronaut",
    "crop": "coffee",
    "move": "chelsea",
    "remove": "rocket",
    "gone": "china",
    "wall": "flower",
    "announce": "china",
}


def _jpeg(img: Image.Image, quality: int = 88) -> bytes:
    out = io.BytesIO()
    img.convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _page(title: str, body: str) -> bytes:
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>".encode()


@dataclass
class _Site:
    """Routes ``path -> (status, content type, body)``, changed by the test at will."""

    routes: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None
    port: int = 0
    host: str = "127.0.0.1"

    def start(self) -> None:
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, ctype, body = routes.get(
                    self.path.split("?")[0], (404, "text/html", _page("Not found", "gone"))
                )
                if status == 0:  # a page that hangs: never answers
                    time.sleep(30)
                    return
                self.send_response(status)
                if 300 <= status < 400:  # the body is the redirect's target
                    self.send_header("Location", body.decode())
                    body = b""
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.server.daemon_threads = True  # a hanging answer does not hold the shutdown
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}/"


def _run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    return subprocess.run(
        [sys.executable, "-m", "copyseal", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=400,
        env=env,
        check=False,
    )


def seed_matches(
    ws: Any, base: str, pages: dict[str, str], *, seal: bool = True, job: str = "seed"
) -> dict[str, int]:
    """Record what a crawl of ``pages`` (page name -> image name) found, matching each
    image with the workspace's matcher, and (``seal``) seal every page through the
    pipeline, as a crawl with ``capture.on_match`` does (else as ``--no-capture``).
    Returns the match id of each page."""
    import hashlib
    import urllib.request

    from sqlalchemy.orm import Session

    from copyseal import times
    from copyseal.crawl import JobSpec
    from copyseal.db.schema.crawl import CrawlJob, CrawlMatch
    from copyseal.pipeline import seal_pending
    from copyseal.registry import build_matcher

    matcher = build_matcher(ws.engine, ws.settings, use_cache=False)
    job_id = job + hashlib.sha256(base.encode()).hexdigest()[:12]
    ids = {}
    with Session(ws.engine) as db:
        db.add(
            CrawlJob(
                job_id=job_id,
                target=base,
                spider="site",
                render=False,
                status="finished",
                spec=JobSpec(target="cli", urls=(base,), allow_private=True).dumps(),
                created_at=times.now(),
            )
        )
        db.flush()
        for page, image in pages.items():
            page_url, image_url = f"{base}{page}.html", f"{base}{image}.jpg"
            with urllib.request.urlopen(image_url, timeout=10) as answer:  # loopback only
                data = answer.read()
            found = matcher.match(data, name=image_url)
            assert found, image_url
            row = CrawlMatch(
                job_id=job_id,
                page_key=hashlib.sha256(page_url.encode()).hexdigest(),
                image_key=hashlib.sha256(image_url.encode()).hexdigest(),
                page_url=page_url,
                image_url=image_url,
                work_id=found[0].work_id,
                score=found[0].score,
                image_sha256=hashlib.sha256(data).hexdigest(),
                location="{}",
                detail=json.dumps(found[0].to_json()),
                found_at=times.now(),
            )
            db.add(row)
            db.flush()
            ids[page] = row.id
        db.commit()
    if seal:
        sealed = seal_pending(ws, job_id)
        assert len(sealed) == len(pages) and all(o.bundle for o in sealed), sealed
    return ids


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, photos: dict[str, np.ndarray]
) -> Iterator[tuple[_Site, Path, dict[str, int]]]:
    """The site's matches sealed once; returns the site, the config and match ids."""
    from copyseal.workspace import Workspace

    root = tmp_path_factory.mktemp("revisit")
    works = root / "works"
    works.mkdir()
    site = _Site()
    for page, photo in _PAGES.items():
        img = Image.fromarray(photos[photo])
        (works / f"{photo}.jpg").write_bytes(_jpeg(img, 92))
        site.routes[f"/{page}.jpg"] = (200, "image/jpeg", _jpeg(img))
        site.routes[f"/{page}.html"] = (
            200,
            "text/html",
            _page(page, f"<h1>{page}</h1><p>Our pictures.</p><img src='{page}.jpg'>"),
        )
    site.start()
    ws_dir = root / "ws"
    init_workspace(ws_dir)
    config = ws_dir / "config.yaml"
    done = _run(config, "register", str(works), "--owner", "Jane Doe", "--json")
    assert done.returncode == 0, done.stderr
    ws = Workspace.open(load_settings(config))
    try:
        # Only the uses compared with their first capture need one (4 captures saved); the
        # others are matches of a crawl made without capture.
        sealed = ("keep", "crop")
        ids = seed_matches(ws, site.base, {p: p for p in sealed})
        others = {p: p for p in _PAGES if p not in sealed}
        ids |= seed_matches(ws, site.base, others, seal=False, job="plain")
    finally:
        ws.close()
    try:
        yield site, config, ids
    finally:
        site.stop()


def _change_site(site: _Site, photos: dict[str, np.ndarray]) -> None:
    r = site.routes
    # keep: the same picture, re-encoded and renamed (the matcher finds it, not the URL).
    astronaut = Image.fromarray(photos["astronaut"])
    r["/keep-2.jpg"] = (200, "image/jpeg", _jpeg(astronaut, 70))
    r["/keep.html"] = (200, "text/html", _page("keep", "<h1>keep</h1><img src='keep-2.jpg'>"))
    # crop: another crop of the same work.
    coffee = Image.fromarray(photos["coffee"])
    r["/crop.jpg"] = (200, "image/jpeg", _jpeg(coffee.crop((0, 0, 380, 300))))
    # move: the picture left the page for another page of the site, linked from it.
    r["/move.html"] = (
        200,
        "text/html",
        _page("move", "<h1>move</h1><p>See <a href='new-home.html'>our new gallery</a>.</p>"),
    )
    r["/new-home.html"] = (200, "text/html", _page("new", "<img src='move.jpg'>"))
    # remove: an unrelated picture in its place.
    r["/remove.jpg"] = (200, "image/jpeg", _jpeg(Image.fromarray(photos["chelsea"]).rotate(180)))
    # gone: the page is deleted.
    del r["/gone.html"]
    # announce: the picture is no longer shown, only announced (og:image): the browser
    # does not load it, the capture fetches it, and the page still names it.
    r["/announce.html"] = (
        200,
        "text/html",
        b"<html><head><title>announce</title><meta property='og:image' content='announce.jpg'>"
        b"</head><body><h1>announce</h1><p>Text only now.</p></body></html>",
    )
    # wall: a challenge page.
    r["/wall.html"] = (
        403,
        "text/html",
        _page("Just a moment...", "<div id='cf-chl-widget'>Checking your browser</div>"),
    )


def _anchors_overdue(config: Path) -> None:
    """Make the last anchoring older than ``anchors.every_seconds`` (600 s), so the next
    run that appends anchors the log again."""
    from sqlalchemy import update

    from copyseal.db.schema.anchors import ANCHOR_RECORDS
    from copyseal.times import now
    from copyseal.workspace import Workspace

    ws = Workspace.open(load_settings(config))
    try:
        with ws.engine.begin() as conn:
            conn.execute(update(ANCHOR_RECORDS).values(updated_at=now() - timedelta(seconds=601)))
    finally:
        ws.close()


@pytest.fixture(scope="module")
def visited(
    world: tuple[_Site, Path, dict[str, int]], photos: dict[str, np.ndarray]
) -> list[dict[str, Any]]:
    site, config, _ids = world
    _change_site(site, photos)
    _anchors_overdue(config)
    done = _run(config, "revisit", "--allow-private", "--json")
    assert done.returncode == 0, done.stderr
    out: list[dict[str, Any]] = json.loads(done.stdout)
    return out


def test_each_change_gets_its_result(
    world: tuple[_Site, Path, dict[str, int]], visited: list[dict[str, Any]]
) -> None:
    _site, _config, ids = world
    results = {v["match_id"]: v["result"] for v in visited}
    assert results == {
        ids["keep"]: "present",
        ids["crop"]: "changed",
        ids["move"]: "moved",
        ids["remove"]: "removed",
        ids["gone"]: "page-gone",
        ids["wall"]: "blocked",
        ids["announce"]: "present",
    }
    by_id = {v["match_id"]: v for v in visited}
    assert by_id[ids["keep"]]["similarity"] >= 0.95
    assert by_id[ids["crop"]]["similarity"] < 0.95
    for v in visited:
        assert set(v) == {
            "match_id",
            "page_url",
            "result",
            "bundle",
            "similarity",
            "ledger_index",
            "error",
        }
        assert v["error"] is None and v["bundle"] is not None
        if v["result"] not in ("present", "changed"):
            assert v["similarity"] is None


def test_every_visit_is_a_bundle_that_verifies(
    world: tuple[_Site, Path, dict[str, int]], visited: list[dict[str, Any]]
) -> None:
    _site, config, ids = world
    from copyseal.bundle.check import verify_bundle

    vkey = json.loads(_run(config, "ledger", "vkey", "--json").stdout)["vkey"]
    # One through `copyseal verify` (the command a recipient runs), the others in-process.
    path = visited[0]["bundle"]["path"]
    done = _run(config, "verify", path, "--vkey", vkey, "--against-workspace", "--json")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert json.loads(done.stdout)["ok"] is True
    for v in visited[1:]:
        checked = verify_bundle(Path(v["bundle"]["path"]), vkey=vkey)
        assert checked.ok, (v, checked)
    by_id = {v["match_id"]: v for v in visited}
    keep = Path(by_id[ids["keep"]]["bundle"]["path"])
    report = json.loads((keep / "data" / "revisit" / "visit.json").read_bytes())
    assert report["found_image_url"].endswith("/keep-2.jpg")
    assert report["found_image_source"] == "page load"
    # Found only through its og:image: visit.json and the reason the ledger keeps say so.
    announce = Path(by_id[ids["announce"]]["bundle"]["path"])
    report = json.loads((announce / "data" / "revisit" / "visit.json").read_bytes())
    assert report["found_image_url"].endswith("/announce.jpg")
    assert report["found_image_source"].startswith("named by the page, not loaded")
    assert report["reason"].endswith("not loaded by the browser: fetched by copyseal")
    assert (keep / "data" / "revisit" / "comparison.png").is_file()
    manifest = json.loads((keep / "manifest.json").read_bytes())
    assert manifest["match"]["revisit"]["result"] == "present"
    moved = Path(by_id[ids["move"]]["bundle"]["path"])
    assert (moved / "data" / "moved-page" / "capture.json").is_file()
    report = json.loads((moved / "data" / "revisit" / "visit.json").read_bytes())
    assert report["found_page_url"].endswith("/new-home.html")
    gone = Path(by_id[ids["gone"]]["bundle"]["path"])
    assert (gone / "data" / "capture" / "screenshots" / "full.png").is_file()


def test_the_ledger_has_a_continued_use_statement_per_visit(
    world: tuple[_Site, Path, dict[str, int]], visited: list[dict[str, Any]]
) -> None:
    _site, config, _ids = world
    from copyseal.workspace import Workspace

    ws = Workspace.open(load_settings(config))
    try:
        ledger = ws.ledger()
        for v in visited:
            statement = json.loads(ledger.entry(v["ledger_index"]).data)
            assert statement["type"] == "continued-use"
            assert statement["match_id"] == v["match_id"]
            assert statement["result"] == v["result"]
            assert statement["bundle_id"] == v["bundle"]["bundle_id"]
            manifest = Path(v["bundle"]["path"]) / "manifest.json"
            import hashlib

            assert statement["manifest_sha256"] == hashlib.sha256(manifest.read_bytes()).hexdigest()
        # The run anchored its statements (the log's own checkpoint kind, 'ledger').
        from sqlalchemy import select

        from copyseal.db.schema.anchors import ANCHOR_RECORDS

        with ws.engine.connect() as conn:
            sizes = set(
                conn.execute(
                    select(ANCHOR_RECORDS.c.tree_size).where(ANCHOR_RECORDS.c.kind == "ledger")
                ).scalars()
            )
        assert max(v["ledger_index"] for v in visited) + 1 in sizes
    finally:
        ws.close()


def test_a_visit_that_fails_leaves_no_bundle_and_is_retried(
    world: tuple[_Site, Path, dict[str, int]], visited: list[dict[str, Any]]
) -> None:
    site, config, ids = world
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from copyseal.db.schema.record import MatchVisit
    from copyseal.revisit import revisit
    from copyseal.workspace import Workspace

    ws = Workspace.open(load_settings(config))
    try:
        bundles_dir = Path(visited[0]["bundle"]["path"]).parent
        before = sorted(p.name for p in bundles_dir.iterdir())
        site.stop()  # the server dies: the connection is refused
        try:
            failed = revisit(ws, match_ids=[ids["keep"]], allow_private=True)
        finally:
            site.start()  # same port
        assert [v.result for v in failed] == [None]
        assert failed[0].error and failed[0].bundle is None
        assert sorted(p.name for p in bundles_dir.iterdir()) == before
        with Session(ws.engine) as db:
            rows = list(
                db.scalars(
                    select(MatchVisit)
                    .where(MatchVisit.match_id == ids["keep"])
                    .order_by(MatchVisit.id)
                )
            )
        assert rows[-1].result is None and rows[-1].error and rows[-1].bundle_id is None
        again = revisit(ws, match_ids=[ids["keep"]], allow_private=True)
        assert [v.result for v in again] == ["present"]
        assert again[0].bundle is not None and again[0].bundle.path.is_dir()
    finally:
        ws.close()


def test_a_page_that_hangs_is_bounded_and_leaves_no_bundle(
    world: tuple[_Site, Path, dict[str, int]], visited: list[dict[str, Any]]
) -> None:
    site, config, ids = world
    from copyseal.capture import CaptureOptions
    from copyseal.revisit import revisit
    from copyseal.workspace import Workspace

    bundles_dir = Path(visited[0]["bundle"]["path"]).parent
    before = sorted(p.name for p in bundles_dir.iterdir())
    kept = site.routes["/keep.html"]
    site.routes["/keep.html"] = (0, "text/html", b"")
    ws = Workspace.open(load_settings(config))
    try:
        t0 = time.monotonic()
        visits = revisit(
            ws,
            match_ids=[ids["keep"]],
            allow_private=True,
            options=CaptureOptions(load_timeout=2.0, settle_timeout=1.0),
        )
        elapsed = time.monotonic() - t0
    finally:
        site.routes["/keep.html"] = kept
        ws.close()
    assert [v.result for v in visits] == [None]
    assert visits[0].error is not None and "did not load within 2 s" in visits[0].error
    assert elapsed < 25  # bounded by the load timeout, not the server's 30 s
    assert sorted(p.name for p in bundles_dir.iterdir()) == before


def test_a_page_redirected_within_the_site_is_moved(
    world: tuple[_Site, Path, dict[str, int]], visited: list[dict[str, Any]]
) -> None:
    site, config, ids = world
    from copyseal.revisit import revisit
    from copyseal.workspace import Workspace

    site.routes["/crop-new.html"] = site.routes["/crop.html"]
    site.routes["/crop.html"] = (301, "text/html", b"/crop-new.html")
    ws = Workspace.open(load_settings(config))
    try:
        [visit] = revisit(ws, match_ids=[ids["crop"]], allow_private=True)
    finally:
        ws.close()
    assert visit.result == "moved", visit
    assert visit.found_page_url == site.base + "crop-new.html"
    assert visit.bundle is not None and visit.similarity is not None  # compared all the same


def test_a_login_wall_an_off_site_redirect_and_a_huge_page_are_blocked(
    world: tuple[_Site, Path, dict[str, int]], visited: list[dict[str, Any]]
) -> None:
    """Pages that are not content are recorded as blocked, never as removed, even
    though none shows the work (and each visit is sealed all the same)."""
    site, config, ids = world
    from copyseal.revisit import revisit
    from copyseal.workspace import Workspace

    other = _Site(host="127.0.0.2")  # another site on loopback
    other.routes["/landing.html"] = (200, "text/html", _page("Elsewhere", "<p>Hello.</p>"))
    other.start()
    site.routes["/gone.html"] = (302, "text/html", (other.base + "landing.html").encode())
    site.routes["/remove.html"] = (
        200,
        "text/html",
        _page(
            "Sign in",
            "<p>Please log in to continue.</p><form><input name='user'>"
            "<input type='password' name='pw'></form>",
        ),
    )
    filler = "<p>" + "Lots of text. " * 20_000 + "</p>"  # ~280 kB
    site.routes["/wall.html"] = (200, "text/html", _page("wall", filler))
    settings = load_settings(config, overrides=("crawl.max_page_bytes=100000",))
    ws = Workspace.open(settings)
    try:
        visits = revisit(
            ws, match_ids=[ids["gone"], ids["remove"], ids["wall"]], allow_private=True
        )
    finally:
        ws.close()
        other.stop()
    by_id = {v.match_id: v for v in visits}
    assert {i: by_id[ids[i]].result for i in ("gone", "remove", "wall")} == {
        "gone": "blocked",
        "remove": "blocked",
        "wall": "blocked",
    }
    assert "127.0.0.2" in str(by_id[ids["gone"]].reason)
    assert by_id[ids["remove"]].reason == "login wall"
    assert "over the 100000-byte cap" in str(by_id[ids["wall"]].reason)
    assert all(v.bundle is not None and v.error is None for v in visits)
