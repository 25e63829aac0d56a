"""Anchor proof files: built from the workspace, verified offline beside the bundle."""

from __future__ import annotations

from pathlib import Path

from copyseal.anchors import service
from copyseal.anchors.proof_file import parse_proof_file, verify_proof_file
from copyseal.bundle import verify_bundle
from copyseal.bundle.anchored import receipt_checkpoint, with_anchor_proof
from copyseal.workspace import Workspace

from ._service_kit import TABLE, gate_entries, seal


def test_anchor_proof_verifies_offline_and_says_what_it_proves(workspace: Workspace) -> None:
    info = seal(workspace, 1)
    seal(workspace, 2)  # the anchored checkpoint is past the bundle's
    service.run(workspace)
    data = service.bundle_proof(workspace, info.bundle_id)
    parsed = parse_proof_file(data)
    assert parsed.size == info.checkpoint_size
    [anchored] = parsed.anchored
    assert anchored.size == workspace.ledger().size() > info.checkpoint_size
    assert [e.kind for e in anchored.anchors] == ["ledger"]
    vkey = workspace.ledger().vkey()
    result = with_anchor_proof(verify_bundle(info.path, vkey=vkey), data, vkey=vkey)
    assert result.ok, result.failures()
    names = [c.name for c in result.checks]
    assert names[-2:] == ["anchor-consistency", f"anchor:ledger:{workspace.ledger().origin}"]
    assert names[:-2] == [c.name for c in verify_bundle(info.path, vkey=vkey).checks]
    doc = result.to_json()
    assert doc["anchors"][0]["size"] == anchored.size
    assert doc["anchors"][0]["detail"].endswith("signed")


def test_every_flipped_byte_is_rejected(workspace: Workspace, tmp_path: Path) -> None:
    info = seal(workspace, 1)
    anchors = service.build(workspace, table=TABLE, entries=gate_entries(tmp_path / "g", "g1"))
    service.run(workspace, anchors=anchors)
    data = service.bundle_proof(workspace, info.bundle_id, anchors=anchors)
    checkpoint = receipt_checkpoint(info.path)
    vkey = workspace.ledger().vkey()

    def ok(blob: bytes) -> bool:
        checks = verify_proof_file(
            blob, checkpoint=checkpoint, vkey=vkey, bundle_id=info.bundle_id, table=TABLE
        )
        return all(c.ok for c in checks)

    assert ok(data)
    passed = [i for i in range(len(data)) if ok(data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :])]
    assert passed == []


def test_unknown_kinds_and_missing_material_fail_clearly(
    workspace: Workspace, tmp_path: Path
) -> None:
    info = seal(workspace, 1)
    anchors = service.build(workspace, table=TABLE, entries=gate_entries(tmp_path / "g", "g1"))
    service.run(workspace, anchors=anchors)
    data = service.bundle_proof(workspace, info.bundle_id, anchors=anchors)
    vkey = workspace.ledger().vkey()
    result = with_anchor_proof(verify_bundle(info.path, vkey=vkey), data)
    failed = result.failures()
    assert [c.name for c in failed] == ["anchor:gate:g1"]
    assert "unknown anchor kind 'gate'" in failed[0].detail
    other = seal(workspace, 2)
    wrong = with_anchor_proof(verify_bundle(other.path, vkey=vkey), data)
    assert not wrong.ok
    assert "anchor-consistency" in [c.name for c in wrong.failures()]
    witnesses = verify_proof_file(
        data,
        checkpoint=receipt_checkpoint(info.path),
        vkey=vkey,
        min_witnesses=1,
        table=TABLE,
    )
    assert [(c.name, c.ok) for c in witnesses][-1] == ("anchor-witnesses", False)
