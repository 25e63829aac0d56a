"""Case packages carry their anchor proof files, and the report the earliest proven time."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pypdf
import pytest

from copyseal.anchors import service
from copyseal.anchors.ledger import stated_checkpoint
from copyseal.anchors.proof_file import parse_proof_file, verify_proof_file
from copyseal.export import export_case
from copyseal.review.cases import create_case
from copyseal.review.decisions import decide
from copyseal.review.queue import queue
from copyseal.workspace import Workspace

from .conftest import W

pytestmark = pytest.mark.browser  # the shared world is crawled and captured with Chromium


@pytest.fixture(scope="module")
def exports(
    world: Any, tsa: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Workspace, list[Any], dict[str, Any]]]:
    """A copy of the world with a TSA configured, a case of the confirmed 127.0.0.1
    matches exported once before the TSA anchored it and twice after; yields the
    workspace, the three exports and the TSA's ``anchors run`` result."""
    folder = tmp_path_factory.mktemp("export-anchors")
    copy = W.copy_workspace(world, folder / "ws")
    ws = W.with_tsa(copy, tsa)
    copy.close()
    items = [i for i in queue(ws).items if i.site == "127.0.0.1"]
    for item in items:
        decide(ws, W.user(ws, "rita"), match_id=item.match_id, decision="confirmed")
    case = create_case(
        ws, W.user(ws, "lars"), title="Anchored", match_ids=[i.match_id for i in items]
    )
    first = export_case(ws, case.case_id, out=folder / "0.zip", exported_by="lars")
    stamped = {r["kind"]: r for r in service.run(ws)}["rfc3161"]
    assert "error" not in stamped, stamped
    later = [
        export_case(ws, case.case_id, out=folder / f"{n}.zip", exported_by="lars") for n in (1, 2)
    ]
    yield ws, [first, *later], stamped
    ws.close()


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename.split("/", 1)[1]: zf.read(i) for i in zf.infolist()}


def test_progress_in_anchoring_changes_the_package_and_nothing_else_does(exports: Any) -> None:
    _, (first, second, third), _ = exports
    assert first.sha256 != second.sha256  # the TSA anchored the case in between
    assert second.sha256 == third.sha256
    assert second.path.read_bytes() == third.path.read_bytes()
    before = json.loads(_members(first.path)["case.json"])
    assert before["ledger"]["anchor_proof"] is None  # the decisions were not anchored yet
    for b in before["bundles"]:
        tsa = next(a for a in b["anchors"] if a["kind"] == "rfc3161")
        assert tsa["state"] == "pending" and b["proven_at"] is None


def test_the_package_carries_every_anchor_proof(exports: Any) -> None:
    ws, (_, second, _), stamped = exports
    members = _members(second.path)
    doc = json.loads(members["case.json"])
    assert doc["bundles"]
    for b in doc["bundles"]:
        name = f"anchors/{b['bundle_id']}.anchor-proof.json"
        assert b["anchor_proof"] == name and name in members
        assert members[name] == service.bundle_proof(ws, b["bundle_id"])
        assert b["proven_at"] == stamped["gen_time"] and b["proven_by"] == "rfc3161:main"
    assert doc["ledger"]["anchor_proof"] == "anchors/checkpoint.anchor-proof.json"
    listed = {f["path"] for f in doc["files"]}
    assert "anchors/checkpoint.anchor-proof.json" in listed
    assert {f"anchors/{b['bundle_id']}.anchor-proof.json" for b in doc["bundles"]} <= listed
    assert "anchor-proof.json" in members["README.txt"].decode()


def test_the_bundles_anchor_proofs_verify(exports: Any, tsa: Any, tmp_path: Path) -> None:
    _, (_, second, _), _ = exports
    members = _members(second.path)
    vkey = members["ledger/vkey"].decode().strip()
    bundle_id = json.loads(members["case.json"])["bundles"][0]["bundle_id"]
    (tmp_path / "b.zip").write_bytes(members[f"bundles/{bundle_id}.zip"])
    proof = tmp_path / "p.json"
    proof.write_bytes(members[f"anchors/{bundle_id}.anchor-proof.json"])
    args = [str(tmp_path / "b.zip"), "--vkey", vkey, "--anchor-proof", str(proof)]
    code, doc = W.verify_cli(*args, "--tsa-ca", str(tsa.pki.ca_cert))
    assert code == 0 and doc["ok"], [ch for ch in doc["checks"] if not ch["ok"]]
    assert {p["kind"] for p in doc["anchors"]} == {"ledger", "rfc3161"}
    proof.write_bytes(members[f"anchors/{bundle_id}.anchor-proof.json"].replace(b'"', b"'", 1))
    code, doc = W.verify_cli(*args, "--tsa-ca", str(tsa.pki.ca_cert))
    assert code != 0 and not doc["ok"]


def test_the_checkpoint_proof_covers_the_decision_receipts(exports: Any, tsa: Any) -> None:
    _, (_, second, _), _ = exports
    members = _members(second.path)
    vkey = members["ledger/vkey"].decode().strip()
    checkpoint = stated_checkpoint(members["ledger/checkpoint"].decode())
    data = members["anchors/checkpoint.anchor-proof.json"]
    assert parse_proof_file(data).size == checkpoint.size
    checks = verify_proof_file(
        data,
        checkpoint=checkpoint,
        vkey=vkey,
        options={"rfc3161": [{"ca_file": str(tsa.pki.ca_cert)}]},
    )
    assert [c.name for c in checks if not c.ok] == []
    assert {c.name for c in checks} >= {"anchor-consistency", "anchor:rfc3161:main"}


def test_the_report_gives_the_earliest_proven_time(exports: Any) -> None:
    _, (first, second, _), stamped = exports
    shown = datetime.fromisoformat(stamped["gen_time"]).strftime("%Y-%m-%d %H:%M:%S UTC")

    def text(path: Path) -> str:
        reader = pypdf.PdfReader(io.BytesIO(_members(path)["report.pdf"]))
        return " ".join(" ".join(page.extract_text() for page in reader.pages).split())

    after = text(second.path)
    assert after.count("Earliest proven time") >= 1
    assert shown in after and "time stamp of TSA main" in after
    assert "anchor-proof.json" in after and "How to check this by hand" in after
    before = text(first.path)
    # (Not the time itself: the case may have been opened in the same second.)
    assert "time stamp of TSA main" not in before
    assert "none yet: no external anchor covers this bundle" in before
