"""Case packages: bundles verify, the PDF carries the hashes, case.json lists everything,
re-export gives the same bytes, and the export is logged in the ledger."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdf
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from copyseal.bundle import verify_bundle
from copyseal.db.models import Work
from copyseal.db.schema.crawl import CrawlMatch
from copyseal.export import (
    ExportError,
    export_case,
    export_path,
    export_receipt,
    receipt_files,
    safe_name,
)
from copyseal.ledger import statements, verify_receipt
from copyseal.ledger.proof import parse_receipt, verify_checkpoint_consistency
from copyseal.review.cases import create_case, get_case
from copyseal.review.decisions import decide
from copyseal.review.errors import NotFound
from copyseal.review.queue import queue
from copyseal.workspace import Workspace

from .conftest import W

pytestmark = pytest.mark.browser  # the shared world is crawled and captured with Chromium


@pytest.fixture(scope="module")
def exported(
    world: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Workspace, Any, list[Any], Path]]:
    """A copy of the world with the 127.0.0.1 matches confirmed, one case, two exports."""
    folder = tmp_path_factory.mktemp("export")
    ws = W.copy_workspace(world, folder / "ws")
    rita, lars = W.user(ws, "rita"), W.user(ws, "lars")
    items = [i for i in queue(ws).items if i.site == "127.0.0.1"]
    for item in items:
        decide(ws, rita, match_id=item.match_id, decision="confirmed", comment="clear copy")
    case = create_case(
        ws, lars, title="Totally Original Photos", match_ids=[i.match_id for i in items]
    )
    results = [
        export_case(ws, case.case_id, out=folder / f"first-{n}.zip", exported_by="lars")
        for n in range(2)
    ]
    yield ws, case, results, folder
    ws.close()


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename.split("/", 1)[1]: zf.read(i) for i in zf.infolist()}


def test_every_bundle_in_the_package_verifies(exported: Any, tmp_path: Path) -> None:
    ws, _case, results, _ = exported
    members = _members(results[0].path)
    vkey = members["ledger/vkey"].decode().strip()
    assert vkey == ws.ledger().vkey()
    bundles = sorted(n for n in members if n.startswith("bundles/"))
    assert len(bundles) == len(results[0].bundles) >= 1
    for name in bundles:
        path = tmp_path / Path(name).name
        path.write_bytes(members[name])
        report = verify_bundle(path, vkey=vkey)
        assert report.ok, report.to_json()


def test_case_json_lists_every_bundle_and_file(exported: Any) -> None:
    _ws, case, results, _ = exported
    members = _members(results[0].path)
    doc = json.loads(members["case.json"])
    assert doc["format"] == "copyseal-case/1" and doc["case_id"] == case.case_id
    assert {b["bundle_id"] for b in doc["bundles"]} == set(results[0].bundles)
    assert {m["match_id"] for m in doc["matches"]} == set(case.match_ids)
    listed = {f["path"]: f["sha256"] for f in doc["files"]}
    assert set(listed) == set(members) - {"case.json"}
    for name, sha in listed.items():
        assert hashlib.sha256(members[name]).hexdigest() == sha, name
    for b in doc["bundles"]:
        assert listed[b["path"]] == b["sha256"]


def test_the_pdf_opens_and_carries_the_hashes(exported: Any) -> None:
    _, case, results, _ = exported
    members = _members(results[0].path)
    reader = pypdf.PdfReader(io.BytesIO(members["report.pdf"]))
    text = "\n".join(page.extract_text() for page in reader.pages)
    doc = json.loads(members["case.json"])
    for b in doc["bundles"]:
        assert b["manifest_sha256"] in text and b["leaf_hash"] in text
    for m in doc["matches"]:
        assert m["image_sha256"] in text and m["work"]["original_sha256"] in text
        assert m["page_url"] in text
    for section in ("Chain of custody", "How to verify", case.title):
        assert section in text
    assert len(reader.pages) >= 2 + len(doc["matches"])
    assert reader.metadata is not None and case.case_id in str(reader.metadata.title)


def test_the_report_shows_cyrillic_greek_and_accented_text(
    world_copy: Workspace, tmp_path: Path
) -> None:
    """DejaVu is embedded: such text is extracted as it was written; characters no
    embedded font has (here Chinese) are written as code points, and re-export is
    still byte-identical."""
    ws = world_copy
    item = next(i for i in queue(ws).items if i.site == "127.0.0.1")
    title, owner = "Закат над Αθήνα, café Ærø", "Ёжи Σοφία Nuñez-Łukasz"
    page_url = item.page_url + "#раздел-Ω"
    with Session(ws.engine) as s, s.begin():
        s.execute(update(Work).where(Work.work_id == item.work_id).values(title=title, owner=owner))
        match = update(CrawlMatch).where(CrawlMatch.id == item.match_id)
        s.execute(match.values(page_url=page_url))
    decide(ws, W.user(ws, "rita"), match_id=item.match_id, decision="confirmed")
    case = create_case(ws, W.user(ws, "lars"), title="Дело 東京 №1", match_ids=[item.match_id])
    first = export_case(ws, case.case_id, out=tmp_path / "a.zip", exported_by="lars")
    second = export_case(ws, case.case_id, out=tmp_path / "b.zip", exported_by="lars")
    assert first.path.read_bytes() == second.path.read_bytes()
    reader = pypdf.PdfReader(io.BytesIO(_members(first.path)["report.pdf"]))
    # Lines break at spaces (a line break stands for one) and inside URLs after "/":
    # compare words with breaks as spaces, URLs with breaks removed.
    raw = "\n".join(page.extract_text() for page in reader.pages)
    text, glued = " ".join(raw.split()), raw.replace("\n", "")
    assert title in text and owner in text and page_url in glued
    assert "Дело [U+6771 U+4EAC] №1" in text and "case.json has the exact text" in text
    assert "?" not in text  # nothing replaced as the core fonts did
    assert reader.metadata is not None
    assert reader.metadata.title == f"copyseal case {case.case_id}: Дело 東京 №1"
    assert reader.metadata.author == "lars"


def test_decision_receipts_and_consistency_proofs_verify(exported: Any) -> None:
    _, _, results, _ = exported
    members = _members(results[0].path)
    doc = json.loads(members["case.json"])
    vkey = doc["ledger"]["vkey"]
    decisions = [d for m in doc["matches"] for d in m["decisions"]]
    assert decisions and all(d["decision"] == "confirmed" for d in decisions)
    for d in decisions:
        statement = members[d["statement"]]
        assert json.loads(statement)["finding_id"] == f"match/{d['match_id']}"
        verify_receipt(members[d["receipt"]], statement, vkey)
    checkpoint = members["ledger/checkpoint"]
    for b in doc["bundles"]:
        with zipfile.ZipFile(io.BytesIO(members[b["path"]])) as zf:
            receipt = zf.read(f"{b['bundle_id']}/manifest.json.tlog-proof").decode()
        proof = [base64.b64decode(h) for h in b["consistency_proof"]]
        verify_checkpoint_consistency(
            parse_receipt(receipt).checkpoint_note, checkpoint, proof, vkey
        )


def test_re_export_is_byte_identical_and_each_export_is_logged(exported: Any) -> None:
    ws, case, results, _ = exported
    first, second = results
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256 == hashlib.sha256(first.path.read_bytes()).hexdigest()
    assert first.ledger_index < second.ledger_index
    for r in results:
        entry = ws.ledger().entry(r.ledger_index)
        assert entry.entry_type == statements.EXPORT
        logged = json.loads(entry.data)
        assert logged["package_sha256"] == r.sha256 and logged["case_id"] == case.case_id
        verify_receipt(r.receipt, r.statement, ws.ledger().vkey())
    assert [e.package_sha256 for e in get_case(ws, case.case_id).exports] == [first.sha256] * 2


def test_the_workspace_keeps_each_exports_receipt(exported: Any) -> None:
    ws, case, results, _ = exported
    vkey = ws.ledger().vkey()
    for r in results:
        statement_file, receipt_file = receipt_files(ws, r.ledger_index)
        assert statement_file.read_bytes() == r.statement
        assert receipt_file.read_text("utf-8") == r.receipt
        assert export_receipt(ws, case.case_id, r.ledger_index) == (r.statement, r.receipt)
    # Files gone (or an export made before they were kept): rebuilt from the ledger.
    last = results[-1]
    for path in receipt_files(ws, last.ledger_index):
        path.unlink()
    statement, receipt = export_receipt(ws, case.case_id, last.ledger_index)
    assert statement == last.statement
    verify_receipt(receipt, statement, vkey)
    with pytest.raises(NotFound, match="no export at ledger entry"):
        export_receipt(ws, case.case_id, results[0].ledger_index - 1)
    with pytest.raises(NotFound, match="no case"):
        export_receipt(ws, "case-none", last.ledger_index)


def test_a_new_decision_changes_the_package(exported: Any) -> None:
    ws, case, results, folder = exported
    decide(
        ws,
        W.user(ws, "alice"),
        match_id=case.match_ids[0],
        decision="confirmed",
        comment="checked again",
    )
    again = export_case(ws, case.case_id, out=folder / "after.zip", exported_by="lars")
    assert again.sha256 != results[0].sha256
    with pytest.raises(ExportError, match="exists already"):
        export_case(ws, case.case_id, out=folder / "after.zip", exported_by="lars")


def test_into_the_exports_folder_by_content(exported: Any) -> None:
    ws, case, _, _ = exported
    a = export_case(ws, case.case_id, exported_by="lars")
    b = export_case(ws, case.case_id, exported_by="lars")
    assert a.path == b.path == export_path(ws, a.path.name)
    assert a.path.parent == (ws.settings.workspace.evidence_dir / "exports").resolve()


@pytest.mark.parametrize(
    "name",
    [
        "../x.zip",
        "..",
        "a/b.zip",
        "/etc/passwd",
        "x\\..\\y.zip",
        ".hidden.zip",
        "a..zip",
        "",
        "x.txt",
    ],
)
def test_export_file_names_cannot_escape_the_folder(exported: Any, name: str) -> None:
    ws = exported[0]
    with pytest.raises(ExportError, match="unsafe file name"):
        export_path(ws, name)


def test_safe_names() -> None:
    assert safe_name("case-1a2b") == "case-1a2b"
    for bad in ("../a", "a/b", "", "a b", "-x" * 100):
        with pytest.raises(ExportError):
            safe_name(bad)


def test_the_command_line(world: Any, tmp_path: Path) -> None:
    """users list, cases create --domain, cases list and export, each with --json."""
    import os
    import subprocess
    import sys

    ws = W.copy_workspace(world, tmp_path / "ws")
    try:
        rita = W.user(ws, "rita")
        ids = [i.match_id for i in queue(ws).items if i.site == "localhost"]
        for match_id in ids:
            decide(ws, rita, match_id=match_id, decision="confirmed")
    finally:
        ws.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}

    def cli(*args: str) -> Any:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "copyseal",
                "--config",
                str(tmp_path / "ws" / "config.yaml"),
                *args,
                "--json",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert {u["name"]: u["role"] for u in cli("users", "list")}["lars"] == "legal"
    case = cli(
        "cases", "create", "--title", "localhost shop", "--domain", "localhost", "--as", "lars"
    )
    assert case["match_ids"] == ids and case["domain"] == "localhost"
    assert [c["case_id"] for c in cli("cases", "list")] == [case["case_id"]]
    out = tmp_path / "pkg.zip"
    result = cli("export", case["case_id"], "--out", str(out), "--recipient", "counsel")
    assert result["path"] == str(out) and result["matches"] == len(ids)
    assert result["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert result["statement"]["package_sha256"] == result["sha256"]
    assert result["statement"]["recipient"] == "counsel"
    statement = Path(result["statement_file"]).read_bytes()
    verify_receipt(Path(result["receipt_file"]).read_text(), statement, _vkey(tmp_path))
    denied = subprocess.run(
        [
            sys.executable,
            "-m",
            "copyseal",
            "--config",
            str(tmp_path / "ws" / "config.yaml"),
            "export",
            case["case_id"],
            "--out",
            str(tmp_path / "x.zip"),
            "--as",
            "rita",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert denied.returncode == 1 and "error: rita (reviewer) may not export" in denied.stderr
    assert not (tmp_path / "x.zip").exists()


def _vkey(tmp_path: Path) -> str:
    from copyseal.config import load_settings

    ws = Workspace.open(load_settings(tmp_path / "ws" / "config.yaml", env={}))
    try:
        return ws.ledger().vkey()
    finally:
        ws.close()
