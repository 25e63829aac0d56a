"""The app's live check against a rolled-back ledger, and a bundle's anchor state."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from copyseal.anchors import service
from copyseal.bundle.anchored import receipt_checkpoint
from copyseal.db.schema.bundle import EvidenceBundle
from copyseal.review.dashboard import bundle_states
from copyseal.review.decisions import decide
from copyseal.review.evidence import anchor_states, earliest_proven, verify_live
from copyseal.review.queue import match_item, queue
from copyseal.workspace import Workspace

from .conftest import W

pytestmark = pytest.mark.browser  # the shared world is crawled and captured with Chromium


def _bundles(ws: Workspace) -> list[tuple[Any, int]]:
    """Every bundle's folder and receipt checkpoint size, largest size last."""
    with ws.engine.connect() as conn:
        paths = conn.scalars(select(EvidenceBundle.path)).all()
    found = [(ws.store.locate(p), receipt_checkpoint(ws.store.locate(p)).size) for p in paths]
    return sorted(found, key=lambda b: b[1])


def _checks(result: Any) -> dict[str, Any]:
    return {c.name: c for c in result.checks}


def test_a_ledger_shorter_than_the_receipt_is_never_verified(world_copy: Workspace) -> None:
    path, size = _bundles(world_copy)[-1]
    assert verify_live(world_copy, path).ok
    older = max(c.size for c in world_copy.ledger().checkpoints() if c.size < size)
    W.truncate_ledger(world_copy, older)
    result = verify_live(world_copy, path)
    assert not result.ok
    consistency = _checks(result)["consistency"]
    assert not consistency.ok
    assert f"has {older} entries" in consistency.detail
    assert f"receipt's checkpoint {size}" in consistency.detail
    # The dashboard's bundle states are the same live check.
    states = {b.bundle_id: b for b in bundle_states(world_copy)}
    assert states[path.name].ok is False and "consistency" in states[path.name].failed


def test_a_log_shorter_than_an_anchored_checkpoint_fails_naming_the_anchor(
    world_copy: Workspace,
) -> None:
    ws = world_copy
    path, _ = _bundles(ws)[-1]
    before = ws.ledger().size()
    item = queue(ws).items[0]
    decide(ws, W.user(ws, "rita"), match_id=item.match_id, decision="confirmed")
    anchored = ws.ledger().size()
    assert anchored == before + 1
    (result,) = service.run(ws)  # the ledger's own anchor only
    assert result["size"] == anchored and "error" not in result
    checks = _checks(verify_live(ws, path))
    assert (
        checks["anchored"].ok and f"checkpoint(s) {anchored} (ledger:" in checks["anchored"].detail
    )
    assert verify_live(ws, path).checks[-1].name == "consistency"

    W.truncate_ledger(ws, before)
    result_after = verify_live(ws, path)
    checks = _checks(result_after)
    assert not result_after.ok
    assert checks["consistency"].ok  # the bundle's own checkpoint is still in the log...
    assert not checks["anchored"].ok  # ...but the anchored one is gone
    assert f"has {before} entries, fewer than checkpoint {anchored}" in checks["anchored"].detail
    assert f"ledger:{ws.ledger().origin}" in checks["anchored"].detail


def test_a_rewritten_and_re_signed_log_fails_naming_the_anchor(world_copy: Workspace) -> None:
    ws = world_copy
    path, _ = _bundles(ws)[-1]
    before = ws.ledger().size()
    item = queue(ws).items[0]
    decide(ws, W.user(ws, "rita"), match_id=item.match_id, decision="confirmed")
    service.run(ws)
    anchored = ws.ledger().size()
    # The same number of entries, the last one replaced, every checkpoint signed anew.
    W.truncate_ledger(ws, before)
    ws.ledger().append([("review-decision", b'{"forged":true}')])
    assert ws.ledger().size() == anchored
    result = verify_live(ws, path)
    checks = _checks(result)
    assert not result.ok and checks["consistency"].ok and not checks["anchored"].ok
    assert f"does not extend checkpoint {anchored} anchored by ledger:" in checks["anchored"].detail


def test_anchor_states_follow_anchoring(world_copy: Workspace, tsa: Any) -> None:
    ws = W.with_tsa(world_copy, tsa)
    try:
        _, size = _bundles(ws)[0]
        states = {(s.kind, s.name): s for s in anchor_states(ws, size)}
        assert states[("rfc3161", "main")].state == "pending"
        assert states[("rfc3161", "main")].size is None
        results = {r["kind"]: r for r in service.run(ws)}
        assert "error" not in results["rfc3161"], results
        states = {(s.kind, s.name): s for s in anchor_states(ws, size)}
        tsa_state = states[("rfc3161", "main")]
        assert tsa_state.state == "confirmed"  # a time stamp is final when made
        assert tsa_state.size == results["rfc3161"]["size"] >= size
        assert tsa_state.anchored_at is not None
        assert tsa_state.to_json()["anchored_at"] == results["rfc3161"]["gen_time"]
        assert states[("ledger", ws.ledger().origin)].anchored_at is None  # no time of its own
        assert earliest_proven(tuple(states.values())) == tsa_state
        # A checkpoint beyond the anchored one is pending again.
        assert {s.state for s in anchor_states(ws, ws.ledger().size() + 1)} == {"pending"}
        match_id = min(i.match_id for i in queue(ws).items if i.bundle_id)
        item = match_item(ws, match_id).to_json()
        assert item["anchor_state"] == "confirmed"
        assert item["proven_by"] == "rfc3161:main"
        assert item["proven_at"] == results["rfc3161"]["gen_time"]
    finally:
        ws.close()
