"""``copyseal ledger …`` and ``copyseal verify``: outputs, JSON contracts, exit codes."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from copyseal.cli import main
from copyseal.config import Settings
from copyseal.db.schema.ledger import ENTRIES
from copyseal.ledger import Ledger
from copyseal.ledger.merkle import leaf_hash, verify_consistency
from copyseal.ledger.note import open_note, parse_vkey
from copyseal.workspace import Workspace

LEAVES = [b'{"n":%d,"type":"test"}' % i for i in range(12)]


@pytest.fixture
def config(workspace_settings: Settings) -> Path:
    ws = Workspace.open(workspace_settings)
    try:
        ledger = Ledger(
            engine=ws.engine, origin=ws.settings.ledger.origin, signing_key=ws.signing_key()
        )
        ledger.append([("test", d) for d in LEAVES[:5]])
        ledger.append([("review-decision", d) for d in LEAVES[5:]])
    finally:
        ws.close()
    assert workspace_settings.source is not None
    return Path(workspace_settings.source)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
    finally:
        # Each in-process run configures logging afresh; close the previous log file.
        log = logging.getLogger("copyseal")
        for handler in log.handlers:
            handler.close()
        log.handlers.clear()
    out = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), out.out, out.err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_status(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    data = run_json(capsys, "--config", str(config), "ledger", "status")
    assert set(data) == {
        "origin", "size", "root", "root_hex", "checkpoints", "issued_at", "entry_types", "vkey"
    }  # fmt: skip
    assert (data["size"], data["checkpoints"]) == (12, 2)
    assert data["entry_types"] == {"review-decision": 7, "test": 5}
    assert base64.b64decode(data["root"]).hex() == data["root_hex"]
    code, out, _ = run(capsys, "--config", str(config), "ledger", "status")
    assert code == 0 and data["root"] in out


def test_checkpoint_and_vkey(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    _, note, _ = run(capsys, "--config", str(config), "ledger", "checkpoint")
    _, vkey, _ = run(capsys, "--config", str(config), "ledger", "vkey")
    opened = open_note(note, [parse_vkey(vkey)])
    assert opened.text.split("\n")[1] == "12"
    data = run_json(capsys, "--config", str(config), "ledger", "checkpoint", "--size", "5")
    assert (data["size"], data["note"].split("\n")[1]) == (5, "5")
    key = run_json(capsys, "--config", str(config), "ledger", "vkey")
    assert key["vkey"] == vkey.strip() and key["vkey"].split("+")[1] == key["key_id"]
    code, _, err = run(capsys, "--config", str(config), "ledger", "checkpoint", "--size", "6")
    assert (code, err.strip()) == (1, "error: no checkpoint was issued at size 6")


def test_proof_then_offline_verify(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    receipt_file = tmp_path / "e6.tlog-proof"
    _, receipt, _ = run(
        capsys, "--config", str(config), "ledger", "proof", "6", "--out", str(receipt_file)
    )
    assert receipt_file.read_text(encoding="utf-8") == receipt
    by_hash = run_json(
        capsys, "--config", str(config), "ledger", "proof", leaf_hash(LEAVES[6]).hex()
    )
    assert by_hash["receipt"] == receipt
    assert (by_hash["index"], by_hash["size"], by_hash["entry_type"]) == (6, 12, "review-decision")
    assert len(by_hash["proof"]) == 4
    _, vkey, _ = run(capsys, "--config", str(config), "ledger", "vkey")
    data_file = tmp_path / "leaf.json"
    data_file.write_bytes(LEAVES[6])
    # A stranger: no workspace, no database, only the files.
    result = run_json(
        capsys, "verify", str(receipt_file), "--vkey", vkey.strip(), "--data", str(data_file)
    )
    assert result == {
        "ok": True,
        "origin": "copyseal.local/ledger",
        "index": 6,
        "size": 12,
        "root": by_hash["receipt"].split("\n\n")[1].split("\n")[2],
        "leaf_hash_hex": leaf_hash(LEAVES[6]).hex(),
    }
    data_file.write_bytes(LEAVES[7])
    code, out, err = run(
        capsys, "verify", str(receipt_file), "--vkey", vkey.strip(), "--data", str(data_file)
    )
    assert (code, out) == (3, "")
    assert err.startswith("error: inclusion proof for leaf 6 does not lead to the root")
    code, _, err = run(capsys, "verify", str(receipt_file), "--vkey", vkey.strip())
    assert code == 2 and "exactly one of --data or --leaf-hash" in err


def test_proof_of_an_unknown_entry(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, _, err = run(capsys, "--config", str(config), "ledger", "proof", "ab" * 32)
    assert (code, err.strip()) == (1, f"error: no ledger entry has leaf hash {'ab' * 32}")
    code, _, err = run(capsys, "--config", str(config), "ledger", "proof", "12")
    assert code == 1 and "not in the log" in err
    code, _, err = run(capsys, "--config", str(config), "ledger", "proof", "xyz")
    assert code == 2 and "64-digit hex leaf hash" in err


def test_consistency(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    data = run_json(capsys, "--config", str(config), "ledger", "consistency", "5")
    assert (data["old_size"], data["new_size"]) == (5, 12)
    assert data["old_checkpoint"].split("\n")[1] == "5"
    verify_consistency(
        old_size=5,
        new_size=12,
        proof=[base64.b64decode(h) for h in data["proof"]],
        old_root=base64.b64decode(data["old_root"]),
        new_root=base64.b64decode(data["new_root"]),
    )
    _, text, _ = run(capsys, "--config", str(config), "ledger", "consistency", "5")
    assert text.split() == data["proof"]
    no_cp = run_json(capsys, "--config", str(config), "ledger", "consistency", "3", "--new", "7")
    assert (no_cp["old_checkpoint"], no_cp["new_checkpoint"]) == (None, None)


def test_audit_exit_codes(
    capsys: pytest.CaptureFixture[str], config: Path, workspace_settings: Settings
) -> None:
    data = run_json(capsys, "--config", str(config), "ledger", "audit")
    assert data == {
        "ok": True,
        "size": 12,
        "entries_checked": 12,
        "checkpoints_checked": 2,
        "trusted_checked": 0,
        "root": data["root"],
        "problem": None,
        "read_back": [],  # no anchor configured that can say what it holds
    }
    ws = Workspace.open(workspace_settings)
    try:
        with ws.engine.begin() as conn:
            conn.execute(update(ENTRIES).where(ENTRIES.c.leaf_index == 4).values(leaf_data=b"x"))
    finally:
        ws.close()
    code, out, _ = run(capsys, "--config", str(config), "ledger", "audit", "--json")
    assert code == 3
    assert json.loads(out)["problem"] == {
        "kind": "edited-entry",
        "index": 4,
        "message": "entry 4: data does not match its leaf hash (edited row)",
    }
    code, out, _ = run(capsys, "--config", str(config), "ledger", "audit")
    assert code == 3 and "FAILED (edited-entry)" in out


def test_export_tiles_and_trusted_audit(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    data = run_json(capsys, "--config", str(config), "ledger", "export-tiles", str(tmp_path / "t"))
    assert data == {
        "directory": str(tmp_path / "t"),
        "size": 12,
        "tiles_written": 2,  # tile/0/000.p/12 and the still-needed tile/0/000.p/5
        "bundles_written": 2,
    }
    assert (tmp_path / "t/tile/0/000.p/12").stat().st_size == 12 * 32
    receipt = tmp_path / "r.tlog-proof"
    run(capsys, "--config", str(config), "ledger", "proof", "3", "--out", str(receipt))
    report = run_json(capsys, "--config", str(config), "ledger", "audit", "--trusted", str(receipt))
    assert (report["ok"], report["trusted_checked"]) == (True, 1)
