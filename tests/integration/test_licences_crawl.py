"""A crawl classifies each match against the licences: the same photo on a licensed host
is ``licensed`` (decided by copyseal, in the ledger), on another host ``new`` with a
note; once the licence has expired, a new crawl leaves the licensed host's copy ``new``
with the expiry note.

The crawls run as the real command in a new process each; the clock of those processes
is injected (``copyseal.times.now`` set before copyseal is imported), so expiry is tested
without waiting.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import delete, select

from copyseal.config import load_settings
from copyseal.db.models import CrawlMatch, WorkFingerprint
from copyseal.licences import grant
from copyseal.registry import register_paths
from copyseal.review.decisions import SYSTEM_REVIEWER, history
from copyseal.review.queue import QueueFilter, queue
from copyseal.workspace import Workspace, init_workspace

#: Two hosts of one machine: the licence names the first only.
LICENSED, OTHER = "127.0.0.1", "127.0.0.2"
#: The injected clock of each crawl: inside the licence's term, then after it.
DURING = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
AFTER = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)

_DRIVER = """
import sys
from datetime import datetime
import copyseal.times
copyseal.times.now = lambda: datetime.fromisoformat(sys.argv[1])
from copyseal.cli import main
main(sys.argv[2:])
"""


def _serve(host: str, files: dict[str, tuple[str, bytes]]) -> tuple[ThreadingHTTPServer, int]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            entry = files.get(self.path)
            ctype, body = entry if entry else ("text/html", b"<title>404</title>")
            self.send_response(200 if entry else 404)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


@pytest.fixture(scope="module")
def photo_jpeg(photos: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(photos["chelsea"]).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture(scope="module")
def hosts(photo_jpeg: bytes) -> Iterator[dict[str, str]]:
    files = {
        "/page.html": ("text/html", b"<html><body><img src='/cat.jpg'></body></html>"),
        "/cat.jpg": ("image/jpeg", photo_jpeg),
    }
    servers = {}
    for host in (LICENSED, OTHER):
        try:
            servers[host] = _serve(host, files)
        except OSError:
            pytest.skip(f"cannot listen on {host}")
    yield {host: f"http://{host}:{port}/page.html" for host, (_, port) in servers.items()}
    for server, _ in servers.values():
        server.shutdown()
        server.server_close()


def _crawl(config: Path, clock: datetime, *urls: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    args = ["--config", str(config), "--set", "crawl.autothrottle=false"]
    args += ["crawl", "--allow-private", "--no-capture", "--json", "--spider", "urls", *urls]
    r = subprocess.run(
        [sys.executable, "-c", _DRIVER, clock.isoformat(), *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    result: dict[str, Any] = json.loads(r.stdout)
    return result


def test_licensed_uses_are_classified_at_crawl_time(
    tmp_path: Path, photo_jpeg: bytes, hosts: dict[str, str]
) -> None:
    settings = init_workspace(tmp_path / "ws")
    (tmp_path / "cat.jpg").write_bytes(photo_jpeg)
    ws = Workspace.open(settings)
    try:
        (record,) = register_paths(ws, [tmp_path / "cat.jpg"])
        work_id = record.work_id  # type: ignore[union-attr]
        with ws.engine.begin() as conn:  # exact matching is enough here, and fast
            conn.execute(delete(WorkFingerprint))
        lic = grant(
            ws,
            work_id,
            licensee="Acme",
            domains=[LICENSED],
            valid_from="2026-01-01",
            valid_until="2026-06-30",
        )
    finally:
        ws.close()
    config = tmp_path / "ws" / "config.yaml"

    first = _crawl(config, DURING, hosts[LICENSED], hosts[OTHER])
    by_host = {m["page_url"].split("/")[2].split(":")[0]: m for m in first["matches"]}
    assert set(by_host) == {LICENSED, OTHER}
    assert by_host[LICENSED]["licence"] == lic.licence_id
    assert by_host[OTHER]["licence"] is None

    second = _crawl(config, AFTER, hosts[LICENSED])
    (again,) = second["matches"]
    assert again["licence"] is None and again["job_id"] != first["job_id"]

    ws = Workspace.open(load_settings(config, env={}))
    try:
        items = {i.match_id: i for i in queue(ws, QueueFilter(limit=10)).items}
        licensed = items[by_host[LICENSED]["match_id"]]
        assert (licensed.status, licensed.licence) == ("licensed", lic.licence_id)
        (decision,) = history(ws, licensed.match_id)
        assert decision.reviewer == SYSTEM_REVIEWER and lic.licence_id in decision.comment
        assert ws.ledger().entry(decision.ledger_index).entry_type == "review-decision"
        other = items[by_host[OTHER]["match_id"]]
        assert other.status == "new"
        assert other.licence_note == f"licensed for {LICENSED}, found on {OTHER}"
        expired = items[again["match_id"]]
        assert expired.status == "new" and history(ws, expired.match_id) == []
        assert expired.licence_note == (
            f"licence {lic.licence_id} expired on 2026-07-01T00:00:00+00:00"
        )
        with ws.engine.connect() as conn:
            notes = conn.execute(select(CrawlMatch.id, CrawlMatch.licence_note)).all()
        assert len(notes) == 3
    finally:
        ws.close()
