"""The dashboard's aggregates, including scheduled crawls."""

from __future__ import annotations

from pathlib import Path

from copyseal.config import load_settings
from copyseal.review.dashboard import dashboard
from copyseal.workspace import Workspace, init_workspace

SCHEDULED = """
crawl:
  targets:
    suspect:
      urls: [http://127.0.0.1:9/]
      allow_private: true
  schedules:
    nightly:
      target: suspect
      cron: "0 3 * * *"
"""


def test_dashboard_lists_scheduled_crawls(tmp_path: Path, photo_files: dict[str, Path]) -> None:
    settings = init_workspace(tmp_path / "ws")
    config = tmp_path / "ws" / "config.yaml"
    config.write_text(config.read_text() + SCHEDULED)
    ws = Workspace.open(load_settings(config, env={}))
    try:
        from copyseal.registry import register_paths

        list(register_paths(ws, [photo_files["coffee"]]))
        board = dashboard(ws, verify=False)
        (entry,) = board.to_json()["schedules"]
        assert (entry["name"], entry["target"], entry["cron"]) == (
            "nightly",
            "suspect",
            "0 3 * * *",
        )
        assert entry["next_run"] is not None and entry["next_run"].endswith(
            ("03:00:00Z", "03:00:00+00:00")
        )
        assert entry["last_run"] is None
        assert board.works == 1 and settings.source is not None
    finally:
        ws.close()
