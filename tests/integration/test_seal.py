"""Crawl → match → capture → bundle → verify, through the real CLI, on a local site."""

from __future__ import annotations

import http.server
import io
import json
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import bagit
import numpy as np
import pytest
from PIL import Image

from copyseal.config import load_settings
from copyseal.workspace import init_workspace

pytestmark = pytest.mark.browser


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _jpeg(pixels: np.ndarray, **kw: Any) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", **kw)
    return out.getvalue()


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, photos: dict[str, np.ndarray]
) -> Iterator[tuple[str, Path]]:
    """A two-page gallery: an edited copy of one work, an exact copy of another, a stranger."""
    root = tmp_path_factory.mktemp("site")
    works = root / "works"
    works.mkdir()
    (works / "astronaut.jpg").write_bytes(_jpeg(photos["astronaut"], quality=92))
    (works / "coffee.jpg").write_bytes(_jpeg(photos["coffee"], quality=92))
    edited = Image.fromarray(photos["astronaut"]).crop((60, 40, 460, 470)).resize((300, 322))
    edited = edited.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    www = root / "www"
    www.mkdir()
    edited.save(www / "edited.jpg", quality=75)
    (www / "coffee.jpg").write_bytes((works / "coffee.jpg").read_bytes())
    (www / "cat.jpg").write_bytes(_jpeg(photos["chelsea"]))
    (www / "index.html").write_text(
        "<html><head><title>Gallery</title></head><body><h1>Gallery</h1>"
        "<img src='edited.jpg' width='300'><img src='cat.jpg' width='300'>"
        "<a href='more.html'>more</a></body></html>"
    )
    (www / "more.html").write_text(
        "<html><body><div style=\"background-image:url('coffee.jpg');width:600px;height:400px\">"
        "</div></body></html>"
    )
    handler = partial(_Quiet, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", works
    server.shutdown()
    server.server_close()


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    return subprocess.run(
        [sys.executable, "-m", "copyseal", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def crawled(
    tmp_path_factory: pytest.TempPathFactory, site: tuple[str, Path]
) -> tuple[Path, dict[str, Any]]:
    base, works = site
    ws = tmp_path_factory.mktemp("ws") / "ws"
    init_workspace(ws)
    config = ws / "config.yaml"
    done = run(config, "register", str(works), "--owner", "Jane Doe", "--json")
    assert done.returncode == 0, done.stderr
    done = run(
        config,
        "--set",
        "crawl.autothrottle=false",
        "crawl",
        base + "index.html",
        "--allow-private",
        "--no-progress",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    return config, json.loads(done.stdout)


def test_each_page_with_a_match_is_sealed(
    crawled: tuple[Path, dict[str, Any]], site: tuple[str, Path]
) -> None:
    _, result = crawled
    base = site[0]
    pages = {m["page_url"]: m for m in result["matches"]}
    assert set(pages) == {base + "index.html", base + "more.html"}
    assert {m["image_url"] for m in result["matches"]} == {base + "edited.jpg", base + "coffee.jpg"}
    sealed = {o["page_url"]: o for o in result["sealed"]}
    assert set(sealed) == set(pages)
    assert all(o["error"] is None for o in sealed.values())
    for m in result["matches"]:
        assert m["bundle"] == sealed[m["page_url"]]["bundle"]["bundle_id"]


def test_bundles_verify_offline_and_are_valid_bags_and_waczs(
    crawled: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    config, result = crawled
    vkey = json.loads(run(config, "ledger", "vkey", "--json").stdout)["vkey"]
    for outcome in result["sealed"]:
        path = Path(outcome["bundle"]["path"])
        done = run(config, "verify", str(path), "--vkey", vkey, "--against-workspace", "--json")
        report = json.loads(done.stdout)
        assert done.returncode == 0 and report["ok"], report
        assert report["key_source"] == "given"
        # The workspace's ledger extends the receipt's checkpoint and holds the manifest.
        assert [c["name"] for c in report["checks"]][-2:] == ["consistency", "entry"]
        bagit.Bag(str(path)).validate()
        wacz = path / "data" / "capture" / "archive.wacz"
        check = subprocess.run(
            [str(Path(sys.executable).with_name("wacz")), "validate", "-f", str(wacz)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        with zipfile.ZipFile(wacz) as zf:
            assert any(n.endswith(".warc.gz") for n in zf.namelist())


def test_manifest_tells_the_whole_story(
    crawled: tuple[Path, dict[str, Any]], site: tuple[str, Path]
) -> None:
    _, result = crawled
    outcome = next(o for o in result["sealed"] if o["page_url"].endswith("index.html"))
    path = Path(outcome["bundle"]["path"])
    manifest = json.loads((path / "manifest.json").read_bytes())
    (match,) = manifest["match"]["matches"]
    assert match["image_url"].endswith("edited.jpg")
    assert match["work"]["owner"] == "Jane Doe"
    assert match["match"]["transform"]["mirrored"] is True
    assert len(match["match"]["region"]) >= 4
    listed = {f["path"] for f in manifest["files"]}
    for key in ("overlay", "captured_image"):
        assert match[key] in listed
    for key in ("original", "registration", "registration_receipt"):
        assert match["work"][key] in listed
    # The registered original is byte for byte the file the owner registered.
    original = (path / match["work"]["original"]).read_bytes()
    assert original == (site[1] / "astronaut.jpg").read_bytes()
    # The registration statement in the bundle verifies against its own receipt.
    from copyseal.ledger import verify_receipt

    vkey = (path / "ledger.vkey").read_text().strip()
    statement = (path / match["work"]["registration"]).read_bytes()
    verify_receipt((path / match["work"]["registration_receipt"]).read_text(), statement, vkey)
    assert json.loads(statement)["original_sha256"] == match["work"]["original_sha256"]
    assert manifest["capture"]["status"] == 200
    assert manifest["capture"]["server"]["ip"] == "127.0.0.1"


def test_a_tampered_copy_fails_naming_the_file(
    crawled: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    import shutil

    config, result = crawled
    src = Path(result["sealed"][0]["bundle"]["path"])
    copy = tmp_path / src.name
    shutil.copytree(src, copy)
    shot = copy / "data" / "capture" / "screenshots" / "full.png"
    shot.chmod(0o644)
    data = bytearray(shot.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shot.write_bytes(bytes(data))
    done = run(config, "verify", str(copy), "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 3 and report["ok"] is False
    failed = {c["name"]: c["detail"] for c in report["checks"] if not c["ok"]}
    assert "data/capture/screenshots/full.png" in failed["files"]


def test_a_dead_page_is_recorded_and_nothing_half_written(
    crawled: tuple[Path, dict[str, Any]],
) -> None:
    import socket

    config, _ = crawled
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = load_settings(config, env={})
    bundles = settings.workspace.evidence_dir / "bundles"
    before = sorted(p.name for p in bundles.iterdir())
    done = run(
        config,
        "--set",
        "capture.load_timeout=5",
        "capture",
        f"http://127.0.0.1:{port}/",
        "--allow-private",
        "--json",
    )
    assert done.returncode == 1
    outcome = json.loads(done.stdout)
    assert outcome["bundle"] is None and f"127.0.0.1:{port}" in outcome["error"]
    assert sorted(p.name for p in bundles.iterdir()) == before
    assert list((settings.workspace.evidence_dir / ".captures").iterdir()) == []
    import sqlite3

    db = settings.database.url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select page_url, error from capture_failures").fetchall()
    assert any(f"127.0.0.1:{port}" in url for url, _ in rows)


def test_resume_seals_matches_crawled_without_capture(
    tmp_path: Path, site: tuple[str, Path]
) -> None:
    base, works = site
    init_workspace(tmp_path / "ws")
    config = tmp_path / "ws" / "config.yaml"
    assert run(config, "register", str(works)).returncode == 0
    done = run(config, "crawl", base + "more.html", "--allow-private", "--no-capture", "--json")
    first = json.loads(done.stdout)
    assert first["sealed"] == [] and [m["bundle"] for m in first["matches"]] == [None]
    done = run(config, "crawl", "--resume", first["job_id"], "--json")
    assert done.returncode == 0, done.stderr
    again = json.loads(done.stdout)
    (outcome,) = again["sealed"]
    assert outcome["bundle"]["bundle_id"] == again["matches"][0]["bundle"]
    # Nothing left to seal: resuming again is a no-op that seals nothing.
    done = run(config, "crawl", "--resume", first["job_id"], "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["sealed"] == []


def test_bundles_are_listed_and_export_as_a_verifiable_zip(
    crawled: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    config, result = crawled
    listed = json.loads(run(config, "bundles", "--json").stdout)
    ids = {o["bundle"]["bundle_id"] for o in result["sealed"]}
    assert ids <= {b["bundle_id"] for b in listed}
    bundle_id = sorted(ids)[0]
    out = tmp_path / "bundle.zip"
    done = run(config, "bundles", "zip", bundle_id, "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["zip"] == str(out)
    vkey = json.loads(run(config, "ledger", "vkey", "--json").stdout)["vkey"]
    report = json.loads(run(config, "verify", str(out), "--vkey", vkey, "--json").stdout)
    assert report["ok"] and report["bundle_id"] == bundle_id
    again = run(config, "bundles", "zip", bundle_id, "--out", str(out))
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr


def test_a_bundle_sealed_but_not_recorded_is_reconciled_not_recaptured(
    crawled: tuple[Path, dict[str, Any]],
) -> None:
    import sqlite3

    config, result = crawled
    settings = load_settings(config, env={})
    db = settings.database.url.removeprefix("sqlite:///")
    bundle_id = result["sealed"][0]["bundle"]["bundle_id"]
    # As if the process died after sealing and before recording it.
    with sqlite3.connect(db) as conn:
        conn.execute("delete from evidence_bundles where bundle_id = ?", (bundle_id,))
        conn.execute("update crawl_matches set bundle_id = null where bundle_id = ?", (bundle_id,))
    before = sorted(p.name for p in (settings.workspace.evidence_dir / "bundles").iterdir())
    done = run(config, "crawl", "--resume", result["job_id"], "--json")
    assert done.returncode == 0, done.stderr
    again = json.loads(done.stdout)
    assert again["sealed"] == []  # nothing captured again
    assert sorted(p.name for p in (settings.workspace.evidence_dir / "bundles").iterdir()) == before
    assert bundle_id in {m["bundle"] for m in again["matches"]}
    with sqlite3.connect(db) as conn:
        assert conn.execute(
            "select count(*) from evidence_bundles where bundle_id = ?", (bundle_id,)
        ).fetchone() == (1,)


def test_manifests_follow_the_published_schema(crawled: tuple[Path, dict[str, Any]]) -> None:
    import jsonschema

    schema_path = (
        Path(__file__).resolve().parents[2] / "evidence" / "schemas" / "manifest.schema.json"
    )
    schema = json.loads(schema_path.read_text())
    _, result = crawled
    for outcome in result["sealed"]:
        manifest = json.loads((Path(outcome["bundle"]["path"]) / "manifest.json").read_bytes())
        jsonschema.validate(manifest, schema)
        # Each match says how the captured image's rights metadata compares (additive).
        assert all("rights_metadata" in e for e in manifest["match"]["matches"])
    lost = {"exif:Artist": {"status": "lost", "original": "a", "found": None}}
    entry = {
        **manifest["match"]["matches"][0],
        "rights_metadata": {"fields": lost, "c2pa": "absent"},
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**manifest, "match": {"matches": [entry]}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {**manifest, "files": [{"path": "../x", "sha256": "0", "size": 1}]}, schema
        )
