"""The service with every real kind on loopback: a TSA (``openssl ts``), a witness and an
anvil chain (skipped without anvil): configure, deploy, run, write a bundle's anchor
proof, verify it offline and online from the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from anvil_node import AnvilNode
from copyseal.anchors import service
from copyseal.config import Settings, load_settings
from copyseal.ledger.note import parse_vkey
from copyseal.witness.server import serving
from copyseal.witness.service import open_witness
from copyseal.workspace import Workspace
from loopback_tsa import LoopbackTsa

from ._service_kit import seal
from .conftest import evm_key_file
from .test_service_cli import run


@pytest.fixture
def anchored_workspace(
    workspace_settings: Settings, tsa_rsa: LoopbackTsa, anvil: AnvilNode, tmp_path: Path
) -> Iterator[tuple[Settings, str]]:
    """The workspace configured with a TSA, a witness of its log and a chain; yields its
    settings and the witness's vkey."""
    assert workspace_settings.source is not None
    ws = Workspace.open(workspace_settings)
    try:
        log_key = parse_vkey(ws.ledger().vkey())
    finally:
        ws.close()
    witness = open_witness(
        tmp_path / "witness", logs={log_key.name: [log_key]}, name="witness.test/w1"
    )
    key_file = evm_key_file(tmp_path, 2)
    with serving(witness) as url:
        config = workspace_settings.source.read_text(encoding="utf-8") + (
            "anchors:\n"
            "  tsa:\n"
            f"    main: {{url: '{tsa_rsa.url}', ca_file: '{tsa_rsa.pki.ca_cert}'}}\n"
            "  witnesses:\n"
            f"    w1: {{url: '{url}', vkey: '{witness.cosigner.vkey}'}}\n"
            "  evm:\n"
            f"    chain: {{rpc_url: '{anvil.url}', chain_id: {anvil.chain_id},"
            f" key_file: '{key_file}', contract: null, confirmations: 0}}\n"
        )
        workspace_settings.source.write_text(config, encoding="utf-8")
        yield load_settings(workspace_settings.source, env={}), witness.cosigner.vkey


def test_every_kind_anchors_and_its_proof_verifies(
    anchored_workspace: tuple[Settings, str],
    tsa_rsa: LoopbackTsa,
    anvil: AnvilNode,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings, witness_vkey = anchored_workspace
    assert settings.anchors.kinds == ["ledger", "evm", "rfc3161", "witness"]
    c = ["--config", str(settings.source)]
    ws = Workspace.open(settings)
    try:
        info = seal(ws, 1)
        vkey = ws.ledger().vkey()
    finally:
        ws.close()
    code, out, err = run(capsys, *c, "anchors", "deploy", "chain", "--json")
    assert code == 0, err
    deployed = json.loads(out)
    assert set(deployed) == {"name", "chain_id", "contract", "tx_hash", "block_number"}
    assert deployed["chain_id"] == anvil.chain_id
    code, out, err = run(capsys, *c, "anchors", "deploy", "chain")
    assert code != 0 and "deployed" in err  # remembered: never deployed twice

    code, out, err = run(capsys, *c, "anchors", "run", "--json")
    assert code == 0, err
    results = {r["kind"]: r for r in json.loads(out)}
    assert {k: "error" in r for k, r in results.items()} == dict.fromkeys(results, False), out
    assert results["evm"]["contract"] == deployed["contract"]
    assert {"tx_hash", "block_number", "block_hash", "log_index", "gas_used"} <= set(results["evm"])
    assert Path(results["rfc3161"]["token_file"]).read_bytes()[:1] == b"\x30"  # DER
    assert results["rfc3161"]["tsa"] == "main" and results["rfc3161"]["gen_time"]
    assert results["witness"]["cosignature"].startswith("\u2014 witness.test/w1 ")

    proof = tmp_path / "proof.json"
    code, out, err = run(
        capsys, *c, "bundles", "anchor-proof", info.bundle_id, "--out", str(proof), "--json"
    )
    assert code == 0, err
    verify = [
        "verify",
        str(info.path),
        "--vkey",
        vkey,
        "--anchor-proof",
        str(proof),
        "--tsa-ca",
        str(tsa_rsa.pki.ca_cert),
        "--witness",
        witness_vkey,
        "--min-witnesses",
        "1",
        "--json",
    ]
    code, out, err = run(capsys, *verify)
    doc = json.loads(out)
    assert code == 0 and doc["ok"], [ch for ch in doc["checks"] if not ch["ok"]]
    proven = {p["kind"]: p for p in doc["anchors"]}
    assert set(proven) == {"ledger", "evm", "rfc3161", "witness"}
    assert proven["evm"]["block"] == results["evm"]["block_number"]
    assert proven["rfc3161"]["time"] is not None
    code, out, err = run(capsys, *verify, "--rpc", anvil.url)
    doc = json.loads(out)
    assert code == 0 and "anchor:evm:chain:online" in [ch["name"] for ch in doc["checks"]]
    # Without the TSA's CA, its time stamp is not proven.
    code, out, _ = run(capsys, *verify[:6], "--witness", witness_vkey, "--json")
    failed = [ch["name"] for ch in json.loads(out)["checks"] if not ch["ok"]]
    assert code == 3 and failed == ["anchor:rfc3161:main"]

    # The log grows: every anchor follows (the witness from the size it cosigned, with
    # a consistency proof; the chain with a growing size).
    ws = Workspace.open(settings)
    try:
        seal(ws, 2)
        size = ws.ledger().size()
        again = service.run(ws)
        assert [(r["kind"], r["size"], "error" in r) for r in again] == [
            (kind, size, False) for kind in ("ledger", "evm", "rfc3161", "witness")
        ]
        assert all(s["pending_entries"] == 0 for s in service.status(ws))
    finally:
        ws.close()


def _roll_back(ws: Workspace, size: int) -> None:
    """What restoring an old backup of the database does, anchor records included: every
    entry from ``size`` on, its subtrees and checkpoints, the bundle rows sealed since,
    and every anchor record gone."""
    from sqlalchemy import delete, select

    from copyseal.db.schema.anchors import ANCHOR_RECORDS
    from copyseal.db.schema.bundle import EvidenceBundle
    from copyseal.db.schema.ledger import CHECKPOINTS, ENTRIES, SUBTREES

    with ws.engine.begin() as conn:
        assert conn.execute(select(CHECKPOINTS).where(CHECKPOINTS.c.tree_size == size)).first()
        conn.execute(delete(EvidenceBundle).where(EvidenceBundle.ledger_index >= size))
        conn.execute(delete(ENTRIES).where(ENTRIES.c.leaf_index >= size))
        conn.execute(delete(CHECKPOINTS).where(CHECKPOINTS.c.tree_size > size))
        conn.execute(delete(ANCHOR_RECORDS))
        for level in range(1, 40):
            conn.execute(
                delete(SUBTREES).where(
                    SUBTREES.c.level == level, (SUBTREES.c.node_index + 1) * (1 << level) > size
                )
            )


def test_audit_asks_the_chain_and_the_witness_when_the_records_are_gone_too(
    anchored_workspace: tuple[Settings, str], capsys: pytest.CaptureFixture[str]
) -> None:
    settings, _witness_vkey = anchored_workspace
    c = ["--config", str(settings.source)]
    ws = Workspace.open(settings)
    try:
        seal(ws, 1)
        small = ws.ledger().size()
        seal(ws, 2)
    finally:
        ws.close()
    assert run(capsys, *c, "anchors", "deploy", "chain")[0] == 0
    code, out, _ = run(capsys, *c, "anchors", "run", "--json")
    assert code == 0 and all("error" not in r for r in json.loads(out)), out
    code, out, _ = run(capsys, *c, "ledger", "audit", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"]
    held = {(b["kind"], b["name"]): b for b in doc["read_back"]}
    assert set(held) == {("evm", "chain"), ("witness", "w1")}
    assert {b["size"] for b in held.values()} == {doc["size"]}

    ws = Workspace.open(settings)
    try:
        _roll_back(ws, small)
    finally:
        ws.close()
    # The workspace alone cannot tell: its log is consistent and its records are gone.
    code, out, _ = run(capsys, *c, "ledger", "audit", "--offline", "--json")
    assert code == 0 and json.loads(out)["read_back"] == []
    # The chain and the witness still hold the longer log.
    code, out, _ = run(capsys, *c, "ledger", "audit", "--json")
    problem = json.loads(out)["problem"]
    assert code == 3 and problem["kind"] == "missing-entry" and problem["index"] == small
    assert "holds now: it was truncated" in problem["message"]
    assert "evm:chain" in problem["message"] or "witness:w1" in problem["message"]
