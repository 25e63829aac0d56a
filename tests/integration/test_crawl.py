"""Whole crawls of a generated site on 127.0.0.1, through the real ``copyseal`` command.

Each crawl runs in a new process (a Twisted reactor runs once per process). Render-mode
crawls share one Chromium started for the session (``crawl.browser_cdp_url``).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete

from copyseal.config import load_settings
from copyseal.db.models import WorkFingerprint
from copyseal.registry import register_paths
from copyseal.workspace import Workspace, init_workspace

from .crawl_site import KINDS, Site, build_site, serve

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def site(photos: dict[str, np.ndarray]) -> Iterator[tuple[Site, dict[str, bytes]]]:
    built, works = build_site(photos)  # type: ignore[arg-type]
    stop = serve(built)
    yield built, works
    stop()


@pytest.fixture(scope="session")
def browser_cdp() -> Iterator[str]:
    """One headless Chromium for every render-mode test, reached over CDP."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium not installed")
    profile = tempfile.mkdtemp(prefix="copyseal-chromium-")
    proc = subprocess.Popen(
        [
            str(CHROMIUM),
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port_file = Path(profile) / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text().strip():
        assert proc.poll() is None, "chromium exited"
        assert time.monotonic() < deadline, "chromium did not start"
        time.sleep(0.1)
    port = port_file.read_text().split()[0]
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


@dataclass
class Crawled:
    """A finished crawl: the command's JSON and the workspace's tables."""

    result: dict[str, Any]
    db: Path
    stderr: str

    def rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(sql, args).fetchall()

    def page_status(self, base: str) -> dict[str, tuple[str, str | None]]:
        return {
            url.removeprefix(base): (status, reason)
            for url, status, reason in self.rows("select url, status, reason from crawl_pages")
        }

    def image_urls(self, base: str) -> set[str]:
        return {u.removeprefix(base) for (u,) in self.rows("select url from crawl_images")}


def make_workspace(root: Path, works: dict[str, bytes], *, fingerprints: bool) -> Path:
    """A workspace with the works registered (and fingerprinted for the real matcher)."""
    settings = init_workspace(root)
    folder = root / "works"
    folder.mkdir()
    paths = []
    for name, data in works.items():
        path = folder / f"{name}.jpg"
        path.write_bytes(data)
        paths.append(path)
    ws = Workspace.open(settings)
    try:
        records = list(register_paths(ws, paths))
        assert all(hasattr(r, "work_id") for r in records)
        if not fingerprints:
            # Registration fingerprints every work; drop them to test exact matching alone.
            with ws.engine.begin() as conn:
                conn.execute(delete(WorkFingerprint))
    finally:
        ws.close()
    return root / "config.yaml"


_FAST = (
    "--set",
    "crawl.autothrottle=false",
    "--set",
    "crawl.settle_timeout=1.5",
    "--set",
    "crawl.timeout=4",
)


def copyseal(
    config: Path, *args: str, sets: tuple[str, ...] = (), timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    return subprocess.run(
        [sys.executable, "-m", "copyseal", "--config", str(config), *_FAST, *sets, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def crawl(config: Path, *args: str, sets: tuple[str, ...] = ()) -> Crawled:
    r = copyseal(config, "crawl", "--allow-private", "--no-capture", "--json", *args, sets=sets)
    assert r.returncode == 0, r.stderr
    settings = load_settings(config, env={})
    return Crawled(
        result=json.loads(r.stdout),
        db=Path(settings.database.url.removeprefix("sqlite:///")),
        stderr=r.stderr,
    )


@pytest.fixture(scope="session")
def static_site_crawl(
    site: tuple[Site, dict[str, bytes]], tmp_path_factory: pytest.TempPathFactory
) -> Crawled:
    s, works = site
    config = make_workspace(tmp_path_factory.mktemp("static"), works, fingerprints=True)
    return crawl(config, s.base + "/")


@pytest.fixture(scope="session")
def kinds_crawls(
    site: tuple[Site, dict[str, bytes]],
    tmp_path_factory: pytest.TempPathFactory,
    browser_cdp: str,
) -> dict[str, Crawled]:
    s, works = site
    out = {}
    for mode in ("static", "render"):
        config = make_workspace(tmp_path_factory.mktemp(mode), works, fingerprints=False)
        out[mode] = crawl(
            config,
            "--spider",
            "urls",
            "--render" if mode == "render" else "--no-render",
            s.base + "/kinds.html",
            s.base + "/slow.html",
            sets=("--set", f"crawl.browser_cdp_url={browser_cdp}"),
        )
    return out


# -- a whole site, static mode -------------------------------------------------------------


def test_crawl_stats_show_real_fetching(static_site_crawl: Crawled) -> None:
    result = static_site_crawl.result
    assert result["status"] == "finished"
    assert result["stats"]["finish_reason"] == "finished"
    assert result["stats"]["downloader/response_count"] >= 30
    assert result["pages"] >= 12 and result["images"] >= 20


def test_pages_are_classified(static_site_crawl: Crawled, site: tuple[Site, Any]) -> None:
    pages = static_site_crawl.page_status(site[0].base)
    assert pages["/"][0] == "done"
    assert pages["/hidden.html"][0] == "done", "the sitemap-only page was not found"
    assert pages["/list?page=3"][0] == "done", "pagination was not followed"
    assert pages["/missing.html"] == ("not-found", "HTTP 404")
    assert pages["/gone.html"] == ("not-found", "soft-404")
    assert pages["/challenge.html"][0] == "blocked"
    assert pages["/private/secret.html"] == ("skipped", "Forbidden by robots.txt")
    assert pages["/loop1"] == ("error", "max redirections reached")
    assert pages["/old"][0] == "done"
    assert not any(url.startswith("https://elsewhere") for url in pages)


def test_every_page_and_image_not_done_has_a_reason(static_site_crawl: Crawled) -> None:
    result = static_site_crawl.result
    pages = result["page_reasons"]
    assert pages["not-found"]["http-404"] >= 1 and pages["not-found"]["soft-404"] == 1
    assert pages["blocked"] == {"challenge": 1}
    assert pages["skipped"] == {"robots-txt": 1}
    assert pages["error"] == {"redirect-limit": 1}
    assert result["page_reason_examples"]["skipped"]["robots-txt"][0].endswith(
        "/private/secret.html"
    )
    images = result["image_reasons"]["skipped"]
    assert images["not-an-image"] >= 1 and images["decode-error"] >= 1
    assert images["too-many-pixels"] == 1
    assert result["links_not_followed"]["off-site"] == 2
    # Every page and image row that is not done has a code, and the counts add up.
    missing = static_site_crawl.rows(
        "select url from crawl_pages where status not in ('done', 'queued')"
        " and reason_code is null"
        " union all select url from crawl_images where status != 'ok' and reason_code is null"
    )
    assert missing == []
    for status, n in result["page_status"].items():
        if status not in ("done", "queued"):
            assert sum(pages[status].values()) == n, status


def test_blocked_pages_images_are_never_fetched(
    static_site_crawl: Crawled, site: tuple[Site, Any]
) -> None:
    assert "/img/private-only.jpg" not in static_site_crawl.image_urls(site[0].base)


def test_bad_images_are_recorded_skips(static_site_crawl: Crawled, site: tuple[Site, Any]) -> None:
    base = site[0].base
    skipped = {
        u.removeprefix(base): reason
        for u, reason in static_site_crawl.rows(
            "select url, reason from crawl_images where status = 'skipped'"
        )
    }
    assert "not an image (HTML)" in skipped["/img/fake.jpg"]
    assert "unusable image" in skipped["/img/corrupt.jpg"]
    assert "decompression bomb" in skipped["/img/bomb.png"]


def test_matches_exact_and_edited_copies(
    static_site_crawl: Crawled, site: tuple[Site, Any]
) -> None:
    base = site[0].base
    found = {
        (m["page_url"].removeprefix(base), m["image_url"].removeprefix(base)): m
        for m in static_site_crawl.result["matches"]
    }
    assert found[("/", "/img/astronaut.jpg")]["method"] == "exact-sha256"
    edited = found[("/", "/img/astronaut-edited.jpg")]
    assert edited["work_id"] == found[("/", "/img/astronaut.jpg")]["work_id"]
    assert edited["method"] != "exact-sha256" and 0 < edited["score"] <= 1
    assert ("/hidden.html", "/img/china.jpg") in found
    assert ("/list?page=3", "/img/china.jpg") in found
    assert not any(img == "/img/flower.jpg" for _, img in found)
    assert all(m["bundle"] is None for m in found.values())
    assert found[("/", "/img/astronaut.jpg")]["location"]["selector"] == "#hero-photo"


def test_an_image_on_two_pages_is_stored_once_and_matched_on_both(
    static_site_crawl: Crawled,
) -> None:
    images = static_site_crawl.rows("select count(*) from crawl_images where url like '%china.jpg'")
    pages = static_site_crawl.rows(
        "select count(distinct page_url) from crawl_matches where image_url like '%china.jpg'"
    )
    assert (images, pages) == ([(1,)], [(2,)])


def test_user_agent_names_copyseal_and_contact(
    static_site_crawl: Crawled, site: tuple[Site, Any]
) -> None:
    agents = site[0].agents
    assert any(
        a.startswith("copyseal/") and "example.invalid/copyseal-contact" in a for a in agents
    )


def test_cli_lists_jobs_and_matches(static_site_crawl: Crawled) -> None:
    config = static_site_crawl.db.parent / "config.yaml"
    jobs = copyseal(config, "crawls", "--json")
    assert jobs.returncode == 0, jobs.stderr
    listed = json.loads(jobs.stdout)
    assert [j["job_id"] for j in listed] == [static_site_crawl.result["job_id"]]
    assert listed[0]["status"] == "finished" and "matches" not in listed[0]
    assert listed[0]["page_reasons"] == static_site_crawl.result["page_reasons"]
    matches = copyseal(config, "matches", "--json")
    assert len(json.loads(matches.stdout)) == static_site_crawl.result["match_count"]


# -- every kind of image, both modes -------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("mode", ["static", "render"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_extraction_kind_table(
    kinds_crawls: dict[str, Crawled], site: tuple[Site, Any], kind: str, mode: str
) -> None:
    expected = KINDS[kind][0 if mode == "static" else 1]
    url = "/img/k-noext" if kind == "noext" else f"/img/k-{kind}.jpg"
    found = url in kinds_crawls[mode].image_urls(site[0].base)
    assert found == expected, f"{kind} in {mode} mode: found={found}, expected={expected}"


@pytest.mark.browser
def test_render_mode_records_boxes_and_frames(
    kinds_crawls: dict[str, Crawled], site: tuple[Site, Any]
) -> None:
    crawled = kinds_crawls["render"]
    assert crawled.result["stats"]["playwright/page_count"] >= 2
    locations = {
        img.removeprefix(site[0].base): json.loads(loc)
        for img, loc in crawled.rows(
            "select image_url, location from crawl_matches where page_url like '%kinds.html'"
        )
    }
    assert locations["/img/k-pseudo.jpg"]["kinds"][0] == "::before"
    assert locations["/img/k-iframe.jpg"]["frame"].endswith("/frame.html")
    box = locations["/img/k-js.jpg"]["bbox"]
    assert box is not None and box[2] > 0 and box[3] > 0
    assert any(
        u.startswith("data:image/png;sha256=")
        for (u,) in crawled.rows("select image_url from crawl_matches")
    )


@pytest.mark.browser
def test_page_that_never_stops_loading_is_still_collected(
    kinds_crawls: dict[str, Crawled], site: tuple[Site, Any]
) -> None:
    pages = kinds_crawls["render"].page_status(site[0].base)
    assert pages["/slow.html"] == ("done", "network never settled")
    caveats = kinds_crawls["render"].result["page_reason_examples"]["done"]
    assert site[0].base + "/slow.html" in caveats["not-settled"]
    images = kinds_crawls["render"].image_urls(site[0].base)
    assert "/img/astronaut.jpg" in images


# -- safety and resume ---------------------------------------------------------------------


def test_a_target_added_in_the_app_is_crawled_by_name(
    site: tuple[Site, dict[str, bytes]], tmp_path: Path
) -> None:
    """A target kept in the database (as the review app saves it) is resolved by
    ``copyseal crawl NAME`` in a new process, with its own limits."""
    from copyseal.crawl import save_target, target_jobs

    s, works = site
    config = make_workspace(tmp_path / "ws", {"china": works["china"]}, fingerprints=False)
    ws = Workspace.open(load_settings(config, env={}))
    try:
        save_target(
            ws,
            name="local-shop",
            fields={"urls": [s.base + "/"], "max_pages": 3},
            actor="alice",
            create=True,
        )
    finally:
        ws.close()
    listed = copyseal(config, "targets", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (shop,) = json.loads(listed.stdout)
    assert (shop["name"], shop["source"], shop["created_by"]) == ("local-shop", "app", "alice")
    history = copyseal(config, "targets", "history", "local-shop", "--json")
    assert [e["action"] for e in json.loads(history.stdout)] == ["created"]
    # An app target cannot allow private networks: the command line does (the site is
    # on loopback).
    r = copyseal(config, "crawl", "local-shop", "--allow-private", "--no-capture", "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["target"] == "local-shop" and result["status"] == "finished"
    assert 1 <= result["pages"] <= 3  # the target's max_pages, not the default 1000
    ws = Workspace.open(load_settings(config, env={}))
    try:
        assert [j["job_id"] for j in target_jobs(ws, "local-shop")] == [result["job_id"]]
    finally:
        ws.close()


def test_private_addresses_are_refused_unless_allowed(
    site: tuple[Site, dict[str, bytes]], tmp_path: Path
) -> None:
    s, works = site
    config = make_workspace(tmp_path / "ws", {"china": works["china"]}, fingerprints=False)
    r = copyseal(config, "crawl", "--no-capture", "--json", s.base + "/hidden.html")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["page_status"] == {"skipped": 1}
    rows = (
        sqlite3.connect(tmp_path / "ws" / "copyseal.db")
        .execute("select reason from crawl_pages")
        .fetchall()
    )
    assert "non-public address 127.0.0.1" in rows[0][0]
    assert result["page_reasons"] == {"skipped": {"private-address": 1}}
    assert result["page_reason_examples"] == {
        "skipped": {"private-address": [s.base + "/hidden.html"]}
    }


def test_a_refused_page_says_why_and_how_to_allow_it(
    site: tuple[Site, dict[str, bytes]], tmp_path: Path
) -> None:
    s, works = site
    config = make_workspace(tmp_path / "ws", {"china": works["china"]}, fingerprints=False)
    r = copyseal(config, "crawl", "--no-capture", "--no-progress", s.base + "/")
    assert r.returncode == 0, r.stderr
    assert (
        f"1 page skipped: a private address ({s.base}/); allow it with `--allow-private`"
    ) in r.stdout
    assert "[finished]: 1 page(s), 0 image(s), 0 match(es)" in r.stdout


def test_links_beyond_the_limits_say_which_limit(
    site: tuple[Site, dict[str, bytes]], tmp_path: Path
) -> None:
    s, works = site
    config = make_workspace(tmp_path / "ws", {"china": works["china"]}, fingerprints=False)
    args = ("crawl", "--allow-private", "--no-capture", "--no-progress", "--depth", "0")
    r = copyseal(config, *args, s.base + "/")
    assert r.returncode == 0, r.stderr
    lines = [line.strip() for line in r.stdout.splitlines()]
    deeper = next(line for line in lines if "deeper than the depth limit" in line)
    # The root page's 8 links on the site (the sitemap's pages are seeds, depth 0).
    assert deeper.startswith("8 links not followed:"), deeper
    assert deeper.endswith("follow links deeper with `--depth N`")
    offsite = next(line for line in lines if "a link to another site" in line)
    assert offsite.startswith("2 links not followed:"), offsite
    assert "image skipped: not an image" in r.stdout
    listed = json.loads(copyseal(config, "crawls", "--json").stdout)
    assert listed[0]["links_not_followed"] == {"max-depth": 8, "off-site": 2}
    assert set(listed[0]["links_not_followed_examples"]["off-site"]) == {
        "http://10.255.255.1/internal.html",
        "https://elsewhere.invalid/",
    }


def test_resume_after_sigkill_refetches_nothing_done_and_keeps_matches(
    site: tuple[Site, dict[str, bytes]], tmp_path: Path
) -> None:
    s, works = site
    config = make_workspace(tmp_path / "ws", works, fingerprints=False)
    db = tmp_path / "ws" / "copyseal.db"
    before = dict(s.hits)
    s.delays["/list"] = 2.0  # every listing page is slow: the kill lands mid-crawl
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "copyseal",
            "--config",
            str(config),
            *_FAST,
            "crawl",
            "--allow-private",
            "--no-capture",
            "--json",
            "--no-progress",
            s.base + "/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        done: list[tuple[str]] = []
        while time.monotonic() < deadline:
            time.sleep(0.2)
            if db.exists():
                try:
                    with sqlite3.connect(db) as conn:
                        done = conn.execute(
                            "select url from crawl_pages where status = 'done' and kind = 'page'"
                        ).fetchall()
                except sqlite3.OperationalError:
                    continue
            if len(done) >= 3:
                break
        assert proc.poll() is None, "the crawl ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        s.delays.pop("/list", None)
        if proc.poll() is None:
            proc.kill()
    with sqlite3.connect(db) as conn:
        job_id, status = conn.execute("select job_id, status from crawl_jobs").fetchone()
        matches_before = conn.execute("select count(*) from crawl_matches").fetchone()[0]
    assert status == "running"
    listed = json.loads(copyseal(config, "crawls", "--json").stdout)
    assert listed[0]["status"] == "interrupted"
    done_paths = [u.removeprefix(s.base) for (u,) in done]
    hits_at_kill = {p: s.hits[p] for p in done_paths}

    r = copyseal(config, "crawl", "--resume", job_id, "--no-capture", "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["status"] == "finished" and result["runs"] == 2
    for path in done_paths:
        assert s.hits[path] == hits_at_kill[path], f"{path} was fetched again after resume"
    with sqlite3.connect(db) as conn:
        pairs = conn.execute(
            "select page_url, image_url, work_id, count(*) from crawl_matches"
            " group by page_url, image_url, work_id"
        ).fetchall()
        pages = dict(conn.execute("select url, status from crawl_pages").fetchall())
    assert all(n == 1 for *_, n in pairs)
    assert len(pairs) >= matches_before
    assert pages[s.base + "/list?page=3"] == "done"
    found = {(p.removeprefix(s.base), i.removeprefix(s.base)) for p, i, _, _ in pairs}
    assert ("/list?page=3", "/img/china.jpg") in found
    assert ("/", "/img/astronaut.jpg") in found
    assert s.hits["/"] - before.get("/", 0) == 1
