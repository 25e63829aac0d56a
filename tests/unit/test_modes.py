"""Workspace files are their owner's only: new ones (the CLI's umask 077) and older ones
(repaired by ``copyseal init`` and ``copyseal db upgrade``, which say so)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from copyseal._modes import UMASK, make_private, workspace_paths
from copyseal.config import load_settings
from copyseal.workspace import init_workspace


def _copyseal(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command in a child process started with the usual umask 022."""
    return subprocess.run(
        [sys.executable, "-m", "copyseal", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
        preexec_fn=lambda: os.umask(0o022),
    )


def _open_to_others(folder: Path) -> list[str]:
    found = []
    for path in [folder, *folder.rglob("*")]:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode) and stat.S_IMODE(mode) & UMASK:
            found.append(f"{path.relative_to(folder)} {stat.S_IMODE(mode):o}")
    return found


def test_what_the_cli_creates_is_private(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    done = _copyseal("init", str(ws), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # A second command opens the database and writes the log file.
    done = _copyseal("--config", str(ws / "config.yaml"), "users", "list", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (ws / "copyseal.db").exists() and (ws / "logs" / "copyseal.log").exists()
    assert _open_to_others(ws) == []


def test_older_workspaces_are_repaired_and_the_commands_say_so(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    settings = init_workspace(ws)
    (ws / "logs").mkdir()
    (ws / "logs" / "copyseal.log").write_text("{}\n")
    # As an older copyseal left them: world-readable.
    for path in workspace_paths(settings):
        if path.exists():
            path.chmod(0o755 if path.is_dir() else 0o644)
    database = ws / "copyseal.db"
    assert stat.S_IMODE(database.stat().st_mode) == 0o644
    done = _copyseal("--config", str(ws / "config.yaml"), "db", "upgrade", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    private = set(json.loads(done.stdout)["made_private"])
    assert {str(database), str(ws / "keys"), str(ws / "logs" / "copyseal.log")} <= private
    assert _open_to_others(ws / "keys") == [] and _open_to_others(ws / "logs") == []
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert stat.S_IMODE((ws / "evidence").stat().st_mode) == 0o700
    # init refuses to overwrite an existing workspace, but repairs it and says so.
    database.chmod(0o644)
    done = _copyseal("init", str(ws), cwd=tmp_path)
    assert done.returncode != 0 and "already a workspace" in done.stderr
    assert f"made {database} readable by its owner only" in " ".join(done.stderr.split())
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert make_private(load_settings(ws / "config.yaml", env={})) == []  # nothing left


def test_the_workspace_folder_itself_and_symlinks_are_left_alone(tmp_path: Path) -> None:
    settings = init_workspace(tmp_path / "ws")
    base = settings.base_dir
    base.chmod(0o755)
    link = settings.workspace.signing_key.parent / "elsewhere"
    target = tmp_path / "shared.txt"
    target.write_text("not the workspace's")
    target.chmod(0o644)
    link.symlink_to(target)
    make_private(settings)
    assert stat.S_IMODE(base.stat().st_mode) == 0o755
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
