"""The chain on a local site: a crawl seals each page with a match into a bundle that
verifies, or seals nothing when told not to; resuming a finished job seals what is left."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pipeline_bench import Bench, make_bench
from sqlalchemy import func, select

from copyseal.bundle import verify_bundle
from copyseal.config import Settings
from copyseal.crawl import crawl_summary
from copyseal.db.schema.bundle import EvidenceBundle
from copyseal.errors import CrawlError
from copyseal.pipeline import PipelineResult, resume, seals_after_crawl
from integration.crawl_site import Site

_RUN_CRAWL = """
import json, sys
from pathlib import Path
from copyseal.config import load_settings
from copyseal.crawl import spec_for
from copyseal.pipeline import run_crawl
from copyseal.workspace import Workspace

config, url, seal, *overrides = sys.argv[1:]
ws = Workspace.open(load_settings(Path(config), overrides=overrides, env={}))
spec = spec_for(ws.settings, (url,), allow_private=True)
print(json.dumps(run_crawl(ws, spec, seal=seal == "on").to_json()))
"""


def run_crawl_in_a_fresh_process(bench: Bench, url: str, *, seal: bool) -> dict[str, Any]:
    """``run_crawl`` in a new interpreter (a Twisted reactor runs once per process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    args = [str(bench.config), url, "on" if seal else "off", *bench.overrides]
    done = subprocess.run(
        [sys.executable, "-c", _RUN_CRAWL, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_capture_on_match_is_the_setting_unless_the_caller_decides(
    workspace_settings: Settings,
) -> None:
    off = workspace_settings.model_copy(
        update={"capture": workspace_settings.capture.model_copy(update={"on_match": False})}
    )
    assert seals_after_crawl(workspace_settings) is True
    assert seals_after_crawl(off) is False
    assert seals_after_crawl(off, True) is True
    assert seals_after_crawl(workspace_settings, False) is False


@pytest.mark.browser
def test_run_crawl_seals_each_page_with_a_match_into_a_bundle_that_verifies(
    gallery: tuple[Site, dict[str, bytes]], tmp_path: Path
) -> None:
    site, works = gallery
    bench = make_bench(tmp_path / "ws", works)
    report = run_crawl_in_a_fresh_process(bench, site.base + "/", seal=True)
    matched = {m["page_url"].removeprefix(site.base) for m in report["matches"]}
    assert matched == {"/", "/more.html"}
    sealed = {o["page_url"].removeprefix(site.base): o for o in report["sealed"]}
    assert set(sealed) == matched
    assert all(o["error"] is None for o in sealed.values())
    for m in report["matches"]:
        assert m["bundle"] == sealed[m["page_url"].removeprefix(site.base)]["bundle"]["bundle_id"]
    ws = bench.open()
    try:
        vkey = ws.ledger().vkey()
        for outcome in sealed.values():
            path = Path(outcome["bundle"]["path"])
            verification = verify_bundle(path, vkey=vkey)
            assert verification.ok, [c for c in verification.checks if not c.ok]
            manifest = json.loads((path / "manifest.json").read_bytes())
            (match,) = manifest["match"]["matches"]
            assert match["image_url"] in {m["image_url"] for m in report["matches"]}
        # The document is the job's report plus "sealed" (what `crawl --json` prints).
        summary = crawl_summary(ws, report["job_id"])
        assert {k: v for k, v in report.items() if k != "sealed"} == summary.to_json()
    finally:
        ws.close()


@pytest.mark.browser
def test_without_sealing_nothing_is_sealed_and_resume_seals_what_is_pending(
    gallery: tuple[Site, dict[str, bytes]], tmp_path: Path
) -> None:
    site, works = gallery
    bench = make_bench(tmp_path / "ws", works)
    report = run_crawl_in_a_fresh_process(bench, site.base + "/", seal=False)
    assert report["sealed"] == [] and report["match_count"] == 2
    assert [m["bundle"] for m in report["matches"]] == [None, None]
    ws = bench.open()
    try:
        with ws.engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(EvidenceBundle)) == 0
        with pytest.raises(CrawlError, match="is finished"):
            resume(ws, report["job_id"], seal=False)  # nothing to crawl, nothing to seal

        # A finished job with unsealed matches: resuming it (capture.on_match) seals them.
        hits = site.hits["/plain.html"]
        result = resume(ws, report["job_id"])
        assert isinstance(result, PipelineResult)
        assert {o.page_url for o in result.sealed} == {m["page_url"] for m in report["matches"]}
        assert all(o.bundle is not None and o.error is None for o in result.sealed)
        bundles = {o.bundle.bundle_id for o in result.sealed if o.bundle is not None}
        assert {m.bundle_id for m in result.summary.matches} == bundles
        assert result.to_json()["sealed"] == [o.to_json() for o in result.sealed]
        assert site.hits["/plain.html"] == hits, "resuming a finished job crawled it again"

        again = resume(ws, report["job_id"])
        assert again.sealed == ()
    finally:
        ws.close()
