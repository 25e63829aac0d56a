"""A realistic workspace shared by the review, export and web tests (built once a session).

Real works (the demo photos) are registered, the demo "infringing" site is served on
127.0.0.1 and crawled as two sites (``127.0.0.1`` and ``localhost``), and every page with a
match is captured and sealed into an evidence bundle — the same path a user takes.
Tests that change data work on a copy (:func:`copy_workspace`); bundles are shared
read-only (they are never rewritten).

Loaded by path from each test folder's conftest (see :func:`load`), so one build serves
the whole session whatever the import mode.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from copyseal.config import load_settings
from copyseal.workspace import Workspace, init_workspace

PASSWORDS = {
    "alice": ("admin", "alice-admin-pw"),
    "rita": ("reviewer", "rita-reviewer-pw"),
    "lars": ("legal", "lars-legal-pw"),
    "vera": ("viewer", "vera-viewer-pw"),
}


@dataclass(frozen=True, kw_only=True)
class World:
    """The pristine crawled workspace and what the crawl reported."""

    folder: Path
    config: Path
    crawl: dict[str, Any]


_CACHE: dict[str, World] = {}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _run(config: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    done = subprocess.run(
        [sys.executable, "-m", "copyseal", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, f"copyseal {' '.join(args)} failed:\n{done.stderr}"
    return done.stdout


def build_world(factory: pytest.TempPathFactory) -> World:
    """The shared workspace (built on first use, then cached for the session)."""
    if "world" in _CACHE:
        return _CACHE["world"]
    from copyseal.demo import write_demo_site, write_demo_works

    root = factory.mktemp("review-world")
    write_demo_works(root / "works")
    write_demo_site(root / "site", root / "works")
    folder = root / "ws"
    init_workspace(folder)
    config = folder / "config.yaml"
    _run(config, "register", str(root / "works"), "--owner", "Jane Doe", "--json")
    handler = partial(_Quiet, directory=str(root / "site"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        out = _run(
            config,
            "--set",
            "crawl.autothrottle=false",
            "crawl",
            f"http://127.0.0.1:{port}/",
            f"http://localhost:{port}/shop.html",
            "--allow-private",
            "--no-progress",
            "--json",
        )
    finally:
        server.shutdown()
        server.server_close()
    crawl = json.loads(out)
    assert crawl["match_count"] >= 3 and all(s["bundle"] for s in crawl["sealed"]), crawl
    for name, (role, password) in PASSWORDS.items():
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "copyseal",
                "--config",
                str(config),
                "users",
                "add",
                name,
                "--role",
                role,
                "--password-stdin",
            ],
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")},
            check=False,
        )
        assert done.returncode == 0, done.stderr
    _CACHE["world"] = World(folder=folder, config=config, crawl=crawl)
    return _CACHE["world"]


def copy_workspace(world: World, dest: Path) -> Workspace:
    """A private copy of the world's workspace (database, keys, originals). The bundle
    files are hard links to the world's (bundles are read-only and never rewritten);
    the rows' absolute paths name the world's store, which the copy's store reads as
    its own (a store that moved: see ``EvidenceStore.locate``)."""
    shutil.copytree(
        world.folder,
        dest,
        ignore=shutil.ignore_patterns("bundles", "logs", "*.db-wal", "*.db-shm"),
    )
    bundles = world.folder / "evidence" / "bundles"
    shutil.copytree(bundles, dest / "evidence" / "bundles", copy_function=os.link)
    # Copy the database through SQLite so that the WAL's content is included.
    import sqlite3

    src = sqlite3.connect(world.folder / "copyseal.db")
    dst = sqlite3.connect(dest / "copyseal.db")
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    return Workspace.open(load_settings(dest / "config.yaml", env={}))


def user(ws: Workspace, name: str) -> Any:
    """The account ``name`` of the world."""
    from copyseal.review.users import get_user

    return get_user(ws, name)


def seed_matches(ws: Workspace, sites: list[tuple[str, float]]) -> list[int]:
    """Synthetic matches (no crawl, no bundle) for storage tests on any database: one
    work, one job, one match per (page URL, score); returns the match ids in order."""
    from copyseal.db.models import Work
    from copyseal.db.schema.crawl import CrawlJob, CrawlMatch

    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    ids = []
    with Session(ws.engine) as s, s.begin():
        s.add(
            Work(
                work_id="w" + "a" * 20,
                sha256="a" * 64,
                size=10,
                width=10,
                height=10,
                format="JPEG",
                owner="Jane Doe",
                title="sunset",
                registered_at=now,
            )
        )
        s.add(
            CrawlJob(
                job_id="job1",
                target="t",
                spider="site",
                render=False,
                status="finished",
                spec="{}",
                created_at=now,
            )
        )
        s.flush()
        for n, (page, score) in enumerate(sites):
            row = CrawlMatch(
                job_id="job1",
                page_key=f"p{n}",
                image_key=f"i{n}",
                page_url=page,
                image_url=page + f"img{n}.jpg",
                work_id="w" + "a" * 20,
                score=score,
                image_sha256="b" * 64,
                location="{}",
                detail=json.dumps({"method": "geometric"}),
                found_at=now.replace(day=1 + n),
            )
            s.add(row)
            s.flush()
            ids.append(row.id)
    return ids


@contextlib.contextmanager
def serve_app(ws: Workspace) -> Iterator[str]:
    """The review app over ``ws`` served by uvicorn on 127.0.0.1 (a free port) in a
    thread; yields its base URL."""
    import socket

    import uvicorn

    from copyseal.web import create_app

    app = create_app(ws, verify_ttl=0.0)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        http="h11",
        proxy_headers=False,  # as copyseal serve (copyseal.web.server_config)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


# -- anchoring and rolling back a copy -------------------------------------------------


@pytest.fixture(scope="session")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A loopback RFC 3161 TSA (``openssl ts -reply``, P-256 keys) for the session; test
    folders take it into their conftest (``tsa = W.tsa``)."""
    from loopback_tsa import LoopbackTsa, make_pki

    pki = make_pki(tmp_path_factory.mktemp("tsa"), key_type="ec")
    with LoopbackTsa(pki) as server:
        yield server


def with_tsa(ws: Workspace, tsa: Any, name: str = "main") -> Workspace:
    """The copy ``ws`` reopened with the TSA configured as ``anchors.tsa.NAME`` (the
    caller closes both)."""
    config = ws.settings.source
    assert config is not None
    text = config.read_text(encoding="utf-8")
    assert "  tsa: {}\n" in text
    entry = f"  tsa:\n    {name}: {{url: '{tsa.url}', ca_file: '{tsa.pki.ca_cert}'}}\n"
    config.write_text(text.replace("  tsa: {}\n", entry), encoding="utf-8")
    return Workspace.open(load_settings(config, env={}))


def truncate_ledger(ws: Workspace, size: int) -> None:
    """Roll the copy's ledger back to its checkpoint at ``size``: every later entry, its
    subtrees and checkpoints deleted (what restoring an old backup of the database does)."""
    from sqlalchemy import delete, select

    from copyseal.db.schema.ledger import CHECKPOINTS, ENTRIES, SUBTREES

    with ws.engine.begin() as conn:
        assert conn.execute(select(CHECKPOINTS).where(CHECKPOINTS.c.tree_size == size)).first()
        conn.execute(delete(ENTRIES).where(ENTRIES.c.leaf_index >= size))
        conn.execute(delete(CHECKPOINTS).where(CHECKPOINTS.c.tree_size > size))
        for level in range(1, 40):
            conn.execute(
                delete(SUBTREES).where(
                    SUBTREES.c.level == level, (SUBTREES.c.node_index + 1) * (1 << level) > size
                )
            )


def verify_cli(*args: str) -> tuple[int, Any]:
    """``copyseal verify ARGS --json`` in a child process: (exit code, its JSON)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    done = subprocess.run(
        [sys.executable, "-m", "copyseal", "verify", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)
