"""Rows changed with SQL, evidence untouched: the app's check, the dashboard and the case
export say "not verified" and why, where the bundle's own check still passes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, update

from copyseal.db.schema.bundle import EvidenceBundle
from copyseal.db.schema.crawl import CrawlMatch
from copyseal.db.schema.ledger import ENTRIES
from copyseal.export import ExportError, export_case
from copyseal.review.cases import create_case
from copyseal.review.dashboard import bundle_states
from copyseal.review.decisions import decide
from copyseal.review.errors import NotFound
from copyseal.review.evidence import bundle_path_of, receipt_notes, verify_live
from copyseal.review.queue import QueueItem, match_item, queue
from copyseal.review.shown import verify_shown_match
from copyseal.workspace import Workspace

from .conftest import W

pytestmark = pytest.mark.browser  # the shared world is crawled and captured with Chromium


def two_pages(ws: Workspace) -> tuple[QueueItem, QueueItem]:
    """Two sealed matches on different pages (so in different bundles)."""
    items = [i for i in queue(ws).items if i.bundle_id]
    a = items[0]
    b = next(i for i in items if i.page_url != a.page_url and i.bundle_id != a.bundle_id)
    return a, b


def checks(result: Any) -> dict[str, Any]:
    return {c.name: c for c in result.checks}


def test_a_match_pointed_at_another_genuine_bundle_is_not_verified(
    world_copy: Workspace, tmp_path: Any
) -> None:
    ws = world_copy
    a, b = two_pages(ws)
    assert verify_shown_match(ws, match_item(ws, a.match_id)).ok  # type: ignore[union-attr]
    with ws.engine.begin() as conn:
        conn.execute(
            update(CrawlMatch).where(CrawlMatch.id == a.match_id).values(bundle_id=b.bundle_id)
        )
    item = match_item(ws, a.match_id)
    assert item.bundle_path is not None
    # The bundle itself is genuine: the live check alone says so.
    assert verify_live(ws, item.bundle_path).ok
    result = verify_shown_match(ws, item)
    assert result is not None and not result.ok
    record = checks(result)["record"]
    assert not record.ok
    assert f"the page shown is {a.page_url}, the manifest's {b.page_url}" in record.detail
    # The case export refuses to state it.
    decide(ws, W.user(ws, "rita"), match_id=a.match_id, decision="confirmed")
    case = create_case(ws, W.user(ws, "lars"), title="tampered", match_ids=[a.match_id])
    with pytest.raises(ExportError, match=rf"match {a.match_id}: bundle .* is not verified"):
        export_case(ws, case.case_id, out=tmp_path / "case.zip", exported_by="lars")
    assert not (tmp_path / "case.zip").exists()


def test_a_bundle_row_pointed_at_another_folder_fails_on_the_dashboard(
    world_copy: Workspace,
) -> None:
    ws = world_copy
    a, b = two_pages(ws)
    assert a.bundle_id is not None and b.bundle_id is not None
    states = {s.bundle_id: s for s in bundle_states(ws)}
    assert states[a.bundle_id].ok is True
    other = str(match_item(ws, b.match_id).bundle_path)
    with ws.engine.begin() as conn:
        conn.execute(
            update(EvidenceBundle).where(EvidenceBundle.bundle_id == a.bundle_id).values(path=other)
        )
    states = {s.bundle_id: s for s in bundle_states(ws)}
    assert states[a.bundle_id].ok is False and states[a.bundle_id].failed == ("record",)
    assert states[b.bundle_id].ok is True
    result = verify_shown_match(ws, match_item(ws, a.match_id))
    assert result is not None
    assert f"the row says bundle {a.bundle_id}, the manifest {b.bundle_id}" in (
        checks(result)["record"].detail
    )


def test_ledger_entries_deleted_under_the_checkpoints_fail(
    world_copy: Workspace, tmp_path: Path
) -> None:
    """Entries deleted, stored hashes and checkpoints kept: whether the log can still prove
    itself consistent depends on where its stored subtrees end (it could in the review's
    case, so the consistency check alone said "verified"); the ``entry`` check fails
    either way, because the log is shorter than the receipt."""
    ws = world_copy
    a, _ = two_pages(ws)
    item = match_item(ws, a.match_id)
    assert item.bundle_ledger_index is not None and item.bundle_path is not None
    with ws.engine.begin() as conn:
        conn.execute(delete(ENTRIES).where(ENTRIES.c.leaf_index >= item.bundle_ledger_index))
    result = verify_shown_match(ws, item)
    assert result is not None and not result.ok
    entry = checks(result)["entry"]
    assert not entry.ok and "fewer than the receipt's checkpoint" in entry.detail
    assert checks(result)["record"].ok  # the rows themselves are untouched
    # copyseal verify --against-workspace says so too.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    cli = [sys.executable, "-m", "copyseal", "--config", str(tmp_path / "ws" / "config.yaml")]
    args = ["verify", str(item.bundle_path), "--vkey", ws.ledger().vkey(), "--json"]
    done = subprocess.run(
        [*cli, *args, "--against-workspace"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    doc = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert not doc["entry"]["ok"] and "fewer than the receipt's" in doc["entry"]["detail"]


def test_a_bundle_row_naming_a_folder_outside_the_store_is_refused(
    world_copy: Workspace, tmp_path: Any
) -> None:
    """A forged bundle folder outside the evidence store is never read or served."""
    ws = world_copy
    a, _ = two_pages(ws)
    assert a.bundle_id is not None
    genuine = match_item(ws, a.match_id).bundle_path
    assert genuine is not None
    forged = tmp_path / "forged"
    shutil.copytree(genuine, forged)  # self-consistent, and outside the store
    with ws.engine.begin() as conn:
        conn.execute(
            update(EvidenceBundle)
            .where(EvidenceBundle.bundle_id == a.bundle_id)
            .values(path=str(forged))
        )
    item = match_item(ws, a.match_id)
    assert item.bundle_path is None and item.files == {}
    result = verify_shown_match(ws, item)
    assert result is not None and not result.ok
    assert "outside the evidence store's areas" in checks(result)["bundle"].detail
    with pytest.raises(NotFound):
        bundle_path_of(ws, a.match_id)
    states = {s.bundle_id: s for s in bundle_states(ws)}
    assert states[a.bundle_id].ok is False and states[a.bundle_id].failed == ("bundle",)


def test_ledger_audit_holds_the_log_to_every_bundle_receipt(
    world_copy: Workspace, tmp_path: Path
) -> None:
    """A log rolled back below the newest receipt's checkpoint (entries, hashes and
    checkpoints all deleted, so it is consistent in itself) fails ``ledger audit``."""
    ws = world_copy
    notes = receipt_notes(ws)
    assert notes and ws.ledger().audit(trusted=[n for _, n in notes]).ok
    newest = max(size for size, _ in notes)
    older = max(c.size for c in ws.ledger().checkpoints() if c.size < newest)
    W.truncate_ledger(ws, older)
    assert ws.ledger().audit().ok  # nothing inside the log shows it
    report = ws.ledger().audit(trusted=[n for _, n in receipt_notes(ws)])
    assert not report.ok and report.problem is not None
    assert f"only has {older} entries" in report.problem.message
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    cli = [sys.executable, "-m", "copyseal", "--config", str(tmp_path / "ws" / "config.yaml")]
    done = subprocess.run(
        [*cli, "ledger", "audit", "--offline", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert f"only has {older} entries" in json.loads(done.stdout)["problem"]["message"]
