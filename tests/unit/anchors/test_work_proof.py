"""A work's registration receipt plus its anchor proof: a prior-existence proof of the
original (``copyseal works anchor-proof`` and ``copyseal verify RECEIPT --data ORIGINAL
--anchor-proof FILE``), with a real loopback TSA."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from copyseal.anchors import service
from copyseal.anchors.proof_file import (
    AnchoredCheckpoint,
    LoggedEntry,
    ProofFile,
    format_proof_file,
    parse_proof_file,
)
from copyseal.cli import main
from copyseal.config import Settings
from copyseal.errors import AnchorError, VerificationError
from copyseal.ledger.statements import WORK_REGISTRATION, load_statement
from copyseal.verify import verify_anchored_receipt
from copyseal.workspace import Workspace
from loopback_tsa import LoopbackTsa

from ._service_kit import seal


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
    finally:
        log = logging.getLogger("copyseal")
        for handler in log.handlers:
            handler.close()
        log.handlers.clear()
    out = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), out.out, out.err


@pytest.fixture
def registered(
    workspace_settings: Settings,
    photo_files: dict[str, Path],
    tsa_rsa: LoopbackTsa,
    capsys: pytest.CaptureFixture[str],
) -> dict[str, Any]:
    """A workspace with one TSA configured, two works registered and one bundle sealed
    after them (so the anchored checkpoint lies past the registrations)."""
    config = Path(str(workspace_settings.source))
    entry = f"loop: {{url: '{tsa_rsa.url}', ca_file: '{tsa_rsa.pki.ca_cert}'}}"
    text = config.read_text(encoding="utf-8")
    if "  tsa: {}\n" in text:
        text = text.replace("  tsa: {}\n", f"  tsa:\n    {entry}\n")
    else:  # a minimal configuration (the PostgreSQL workspace's)
        text += f"anchors:\n  tsa:\n    {entry}\n"
    config.write_text(text, encoding="utf-8")
    c = ["--config", str(config)]
    code, out, err = run(
        capsys, *c, "register", str(photo_files["astronaut"]), str(photo_files["coffee"]), "--json"
    )
    assert code == 0, err
    works = json.loads(out)
    from copyseal.config import load_settings

    ws = Workspace.open(load_settings(config))
    try:
        seal(ws, 1)
        vkey = ws.ledger().vkey()
    finally:
        ws.close()
    return {"c": c, "works": works, "vkey": vkey, "ca": str(tsa_rsa.pki.ca_cert)}


def test_a_registration_is_proven_to_exist_no_later_than_the_tsa_time(
    registered: dict[str, Any],
    photo_files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    c, vkey, ca = registered["c"], registered["vkey"], registered["ca"]
    work = registered["works"][1]
    out_file = tmp_path / "work.tlog-proof"
    code, _, err = run(capsys, *c, "works", "anchor-proof", work["work_id"], "--out", str(out_file))
    assert code != 0 and "no anchored checkpoint covers its ledger entry" in err
    assert not out_file.exists()

    code, out, err = run(capsys, *c, "anchors", "run", "--json")
    assert code == 0, err
    size = {r["kind"]: r["size"] for r in json.loads(out)}
    assert size == {"ledger": 3, "rfc3161": 3}
    code, out, err = run(
        capsys, *c, "works", "anchor-proof", work["work_id"], "--out", str(out_file), "--json"
    )
    assert code == 0, err
    doc = json.loads(out)
    proof_file = tmp_path / "work.tlog-proof.anchor-proof.json"
    assert doc == {
        "work_id": work["work_id"],
        "index": work["ledger_index"],
        "receipt": str(out_file),
        "anchor_proof": str(proof_file),
        "size": 3,
        "anchored": [{"size": 3, "anchors": [f"ledger:{vkey.split('+')[0]}", "rfc3161:loop"]}],
    }
    parsed = parse_proof_file(proof_file.read_bytes())
    assert parsed.bundle_id is None and parsed.entry is not None
    statement = load_statement(parsed.entry.data)
    assert statement["type"] == WORK_REGISTRATION and statement["work_id"] == work["work_id"]

    original = photo_files["coffee"]
    verify = ["verify", str(out_file), "--vkey", vkey, "--data", str(original)]
    verify += ["--anchor-proof", str(proof_file), "--tsa-ca", ca]
    code, out, err = run(capsys, *verify, "--json")
    assert code == 0, err
    result = json.loads(out)
    digest = hashlib.sha256(original.read_bytes()).hexdigest()
    assert result["ok"] and result["index"] == work["ledger_index"] and result["size"] == 3
    assert result["subject"] == f"work {work['work_id']} (sha256 {digest})"
    assert [ch["name"] for ch in result["checks"]] == [
        "anchor-consistency",
        f"anchor:ledger:{vkey.split('+')[0]}",
        "anchor:rfc3161:loop",
    ]
    [claim] = result["proven"]
    assert claim.startswith(f"work {work['work_id']} (sha256 {digest}) existed no later than 20")
    assert claim.endswith(", by TSA loop")
    code, out, _ = run(capsys, *verify)
    assert code == 0 and "existed no later than" in out and "verified" in out

    # Another picture is not the registered original.
    other = ["verify", str(out_file), "--vkey", vkey, "--data", str(photo_files["astronaut"])]
    code, _, err = run(capsys, *other, "--anchor-proof", str(proof_file), "--tsa-ca", ca)
    assert code == 3 and "is not the registered original's" in err
    # Without the TSA's CA the time is not proven: the check fails and says so.
    code, out, _ = run(capsys, *verify[:-2], "--json")
    failed = [ch for ch in json.loads(out)["checks"] if not ch["ok"]]
    assert code == 3 and [ch["name"] for ch in failed] == ["anchor:rfc3161:loop"]
    # The never-overwrite rule holds for both files.
    code, _, err = run(capsys, *c, "works", "anchor-proof", work["work_id"], "--out", str(out_file))
    assert code != 0 and "exists" in err


def test_a_changed_statement_or_entry_is_rejected(
    registered: dict[str, Any],
    photo_files: dict[str, Path],
    tmp_path: Path,
    workspace_settings: Settings,
) -> None:
    from copyseal.config import load_settings

    ws = Workspace.open(load_settings(Path(str(workspace_settings.source))))
    try:
        service.run(ws)
        work = registered["works"][0]
        receipt, data = service.work_proof(ws, work["work_id"])
        with pytest.raises(AnchorError, match="no such work"):
            service.work_proof(ws, "w0000")
        vkey = ws.ledger().vkey()
    finally:
        ws.close()
    receipt_file = tmp_path / "r.tlog-proof"
    receipt_file.write_text(receipt, encoding="utf-8")
    original = photo_files["astronaut"].read_bytes()
    options = {"rfc3161": [{"ca_file": registered["ca"]}]}

    def check(blob: bytes) -> bool:
        result = verify_anchored_receipt(
            receipt_file, vkey=vkey, data=original, anchor_proof=blob, options=options
        )
        return result.ok

    assert check(data)
    parsed = parse_proof_file(data)
    assert parsed.entry is not None
    changed = replace(parsed.entry, data=parsed.entry.data.replace(b'"owner":"', b'"owner":"X'))
    with pytest.raises(VerificationError, match="inclusion"):
        check(format_proof_file(replace(parsed, entry=changed)))
    moved = replace(parsed.entry, index=parsed.entry.index + 1)
    with pytest.raises(VerificationError, match="is for entry 1, the receipt for entry 0"):
        check(format_proof_file(replace(parsed, entry=moved)))


def test_an_entry_round_trips_and_a_bundle_file_has_none() -> None:
    anchored = AnchoredCheckpoint(
        size=3, root=b"\x02" * 32, note="n\n", consistency=(b"\x03" * 32,), anchors=()
    )
    entry = LoggedEntry(index=1, entry_type=WORK_REGISTRATION, data=b'{"type":"x"}')
    with_entry = ProofFile(
        bundle_id=None,
        origin="o",
        size=2,
        root=b"\x01" * 32,
        anchored=(anchored,),
        entry=entry,
    )
    assert parse_proof_file(format_proof_file(with_entry)) == with_entry
    bundle = replace(with_entry, bundle_id="b1", entry=None)
    data = format_proof_file(bundle)
    assert b'"entry"' not in data and parse_proof_file(data) == bundle
    broken = format_proof_file(with_entry).replace(b'"index":1', b'"index":"1"')
    with pytest.raises(VerificationError, match="'index' is not a int"):
        parse_proof_file(broken)


def test_any_ledger_entry_gets_its_receipt_and_anchor_proof(
    registered: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``ledger anchor-proof INDEX``: a decision's or an export's statement is proven the
    same way, from its logged bytes (an export's ``.export.json``)."""
    c, vkey, ca = registered["c"], registered["vkey"], registered["ca"]
    out_file = tmp_path / "entry.tlog-proof"
    code, _, err = run(capsys, *c, "ledger", "anchor-proof", "2", "--out", str(out_file))
    assert code != 0 and "no anchored checkpoint covers its ledger entry 2" in err
    code, _, err = run(capsys, *c, "ledger", "anchor-proof", "9", "--out", str(out_file))
    assert code != 0 and "no ledger entry 9" in err
    assert run(capsys, *c, "anchors", "run")[0] == 0
    code, out, err = run(
        capsys, *c, "ledger", "anchor-proof", "2", "--out", str(out_file), "--json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["index"], doc["size"], doc["receipt"]) == (2, 3, str(out_file))
    proof_file = Path(doc["anchor_proof"])
    entry = parse_proof_file(proof_file.read_bytes()).entry
    assert entry is not None and entry.index == 2
    statement = tmp_path / "statement.json"
    statement.write_bytes(entry.data)
    verify = ["verify", str(out_file), "--vkey", vkey, "--data", str(statement)]
    code, out, err = run(capsys, *verify, "--anchor-proof", str(proof_file), "--tsa-ca", ca)
    assert code == 0 and "existed no later than" in out, err
    statement.write_bytes(entry.data + b" ")
    code, _, _ = run(capsys, *verify, "--anchor-proof", str(proof_file), "--tsa-ca", ca)
    assert code == 3
