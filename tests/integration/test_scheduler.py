"""``copyseal scheduler --once`` against the generated site on 127.0.0.1, through the real
command: a due run crawls once, a second ``--once`` does not run it again, and a
re-visit run crawls the pages where the first one found infringements."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from .crawl_site import Site, build_site, serve
from .test_crawl import make_workspace

_FAST = ("--set", "crawl.autothrottle=false", "--set", "crawl.timeout=4")


@pytest.fixture(scope="module")
def site(photos: dict[str, np.ndarray]) -> Iterator[tuple[Site, dict[str, bytes]]]:
    built, works = build_site(photos)  # type: ignore[arg-type]
    stop = serve(built)
    yield built, works
    stop()


def copyseal(config: Path, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    r = subprocess.run(
        [sys.executable, "-m", "copyseal", "--config", str(config), *_FAST, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def configure(config: Path, *, targets: dict[str, Any], schedules: dict[str, Any]) -> None:
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["crawl"]["targets"] = targets
    data["crawl"]["schedules"] = schedules
    data["capture"]["on_match"] = False  # sealing is tested elsewhere; keep this fast
    config.write_text(yaml.safe_dump(data), encoding="utf-8")


def test_scheduler_runs_once_and_revisits_infringing_pages(
    site: tuple[Site, dict[str, bytes]], tmp_path: Path
) -> None:
    s, works = site
    config = make_workspace(tmp_path / "ws", works, fingerprints=False)
    # Yearly: due once (its latest occurrence, 1 January), then not for months.
    gallery = {"urls": [s.base + "/"], "allow_private": True}
    configure(
        config,
        targets={"gallery": gallery},
        schedules={"yearly": {"target": "gallery", "cron": "0 0 1 1 *"}},
    )
    listed = copyseal(config, "schedule", "list", "--json")
    assert [(x["name"], x["due"], x["last_run"]) for x in listed] == [("yearly", True, None)]

    (run,) = copyseal(config, "scheduler", "--once", "--json")
    assert (run["schedule"], run["status"], run["revisit_pages"]) == ("yearly", "finished", 0)
    assert run["due_at"].endswith("-01-01T00:00:00+00:00")
    (job,) = copyseal(config, "jobs", "--json")
    assert job["job_id"] == run["job_id"] and job["status"] == "finished"
    assert job["pages"] >= 10 and job["match_count"] >= 3
    first_pages = {
        m["page_url"].removeprefix(s.base) for m in copyseal(config, "matches", "--json")
    }
    assert {"/", "/hidden.html", "/list?page=3"} <= first_pages

    hits = s.hits["/"]
    assert copyseal(config, "scheduler", "--once", "--json") == []
    assert s.hits["/"] == hits, "the due run was crawled twice"
    assert len(copyseal(config, "jobs", "--json")) == 1
    (state,) = copyseal(config, "schedule", "list", "--json")
    assert state["due"] is False and state["last_run"]["job_id"] == job["job_id"]
    assert state["last_run"]["job_status"] == "finished"
    assert state["next_run"] > run["due_at"]

    # Re-visit: the target now starts at a page with no links and follows nothing, so
    # only the re-visit brings the crawl back to the pages with infringements.
    configure(
        config,
        targets={"gallery": {**gallery, "urls": [s.base + "/new.html"], "max_depth": 0}},
        schedules={
            "yearly": {"target": "gallery", "cron": "0 0 1 1 *"},
            "recheck": {"target": "gallery", "cron": "0 0 1 1 *", "revisit_matches": True},
        },
    )
    (revisit,) = copyseal(config, "scheduler", "--once", "--json")
    assert (revisit["schedule"], revisit["status"]) == ("recheck", "finished")
    assert revisit["revisit_pages"] == len(first_pages)
    found = {
        m["page_url"].removeprefix(s.base)
        for m in copyseal(config, "matches", "--json", "--job", revisit["job_id"])
    }
    assert "/list?page=3" in found, "an infringing page was not visited again"
    assert found == first_pages
    # The run re-visited each match first: the works have no fingerprint (exact copies
    # only), and the copies are still there, so no visit may say they were removed.
    record = copyseal(config, "timeline", "127.0.0.1", "--json")
    visits = [(m["page_url"], v["result"]) for m in record["matches"] for v in m["visits"][1:]]
    assert visits and {result for _, result in visits} == {"present"}, visits
    assert record["removed_on"] is None
