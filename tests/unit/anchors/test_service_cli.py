"""``copyseal anchors run|status|deploy``, ``bundles anchor-proof``, ``verify
--anchor-proof`` and ``ledger audit`` against anchored checkpoints: JSON contracts."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import delete

from copyseal.cli import main
from copyseal.config import Settings
from copyseal.db.schema.ledger import CHECKPOINTS, ENTRIES, SUBTREES
from copyseal.workspace import Workspace

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
def sealed(workspace_settings: Settings) -> dict[str, str]:
    ws = Workspace.open(workspace_settings)
    try:
        ws.ledger().append([("test", b'{"n":%d}' % i) for i in range(5)])
        info = seal(ws, 1)
        return {
            "config": str(workspace_settings.source),
            "bundle_id": info.bundle_id,
            "path": str(info.path),
            "vkey": ws.ledger().vkey(),
            "origin": ws.ledger().origin,
        }
    finally:
        ws.close()


def test_run_status_proof_verify_and_audit(
    sealed: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = ["--config", sealed["config"]]
    code, out, _ = run(capsys, *c, "anchors", "status", "--json")
    assert code == 0
    assert json.loads(out) == [
        {
            "kind": "ledger",
            "name": sealed["origin"],
            "anchored_size": None,
            "anchored_at": None,
            "pending_entries": 6,
            "last_error": None,
            "status": None,
            "attempts": 0,
            "retry_at": None,
        }
    ]
    code, out, _ = run(capsys, *c, "anchors", "run", "--json")
    assert code == 0
    [result] = json.loads(out)
    assert {"kind", "name", "size", "root", "checkpoint"} <= set(result)
    assert (result["kind"], result["size"], result["status"]) == ("ledger", 6, "confirmed")
    assert result["checkpoint"].startswith(f"{sealed['origin']}\n6\n{result['root']}\n")
    code, out, _ = run(capsys, *c, "anchors", "status", "--json")
    [st] = json.loads(out)
    assert (st["anchored_size"], st["pending_entries"]) == (6, 0) and st["anchored_at"]

    proof = tmp_path / "bundle.anchor-proof.json"
    code, out, _ = run(
        capsys, *c, "bundles", "anchor-proof", sealed["bundle_id"], "--out", str(proof), "--json"
    )
    assert code == 0
    assert json.loads(out) == {
        "bundle_id": sealed["bundle_id"],
        "file": str(proof),
        "size": 6,
        "anchored": [{"size": 6, "anchors": [f"ledger:{sealed['origin']}"]}],
    }
    verify = ["verify", sealed["path"], "--vkey", sealed["vkey"], "--anchor-proof", str(proof)]
    code, out, _ = run(capsys, *verify, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"]
    assert [ch["name"] for ch in doc["checks"]][-2:] == [
        "anchor-consistency",
        f"anchor:ledger:{sealed['origin']}",
    ]
    assert doc["anchors"][0]["kind"] == "ledger" and doc["anchors"][0]["size"] == 6
    code, out, _ = run(capsys, *verify)
    assert code == 0 and "proven" in out
    # Check names print as they are (rich would read ":ledger:" as an emoji code).
    assert f"anchor:ledger:{sealed['origin']}" in out and "\N{LEDGER}" not in out

    data = proof.read_bytes()
    i = data.index(b'"note":"') + 20
    flipped = tmp_path / "flipped.json"
    flipped.write_bytes(data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :])
    code, out, _ = run(capsys, *verify[:-1], str(flipped), "--json")
    assert code == 3 and not json.loads(out)["ok"]

    # A log truncated below the anchored checkpoint fails the audit, which names it.
    ws_code, out, _ = run(capsys, *c, "ledger", "audit", "--json")
    assert ws_code == 0 and json.loads(out)["trusted_checked"] == 1
    config = Path(sealed["config"])
    from copyseal.config import load_settings

    ws = Workspace.open(load_settings(config))
    try:
        with ws.engine.begin() as conn:
            conn.execute(delete(ENTRIES).where(ENTRIES.c.leaf_index >= 5))
            conn.execute(delete(CHECKPOINTS).where(CHECKPOINTS.c.tree_size > 5))
            conn.execute(delete(SUBTREES).where(SUBTREES.c.node_index >= 2))
    finally:
        ws.close()
    code, out, _ = run(capsys, *c, "ledger", "audit", "--json")
    problem = json.loads(out)["problem"]
    assert code == 3
    assert problem["kind"] == "rewritten-history" and problem["index"] == 6
    assert f"checkpoint 6 anchored by ledger:{sealed['origin']}" in problem["message"]


def test_deploy_needs_an_evm_anchor(
    sealed: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--config", sealed["config"], "anchors", "deploy", "main")
    assert code != 0
    assert "no anchor anchors.evm.main (none configured)" in err


def test_a_bundle_not_anchored_yet_has_no_proof(
    sealed: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = ["--config", sealed["config"]]
    out_file = tmp_path / "p.json"
    code, _, err = run(
        capsys, *c, "bundles", "anchor-proof", sealed["bundle_id"], "--out", str(out_file)
    )
    assert code != 0 and "no anchored checkpoint covers its size 6" in err
    assert not out_file.exists()
