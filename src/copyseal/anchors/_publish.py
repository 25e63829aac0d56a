"""Deploying an EVM anchor's contract, and the anchor proof of a bundle or of a work's
registration (see :mod:`copyseal.anchors.service`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from copyseal.anchors._build import Configured, build
from copyseal.anchors._state import records_covering, remembered_contract
from copyseal.anchors.proof_file import (
    AnchoredCheckpoint,
    LoggedEntry,
    ProofEntry,
    ProofFile,
    format_proof_file,
)
from copyseal.db.schema.anchors import ANCHOR_DEPLOYMENTS as _DEPLOYMENTS
from copyseal.db.sql import insert_or_ignore
from copyseal.errors import AnchorError
from copyseal.ledger.checkpoint import Checkpoint, parse_checkpoint
from copyseal.ledger.note import parse_note
from copyseal.ledger.proof import Receipt
from copyseal.times import now
from copyseal.workspace import Workspace

__all__ = ["bundle_proof", "checkpoint_proof", "deploy", "entry_proof", "work_proof"]


def _field(result: Any, name: str) -> Any:
    if isinstance(result, Mapping):
        return result.get(name)
    return getattr(result, name, None)


def deploy(ws: Workspace, name: str) -> dict[str, Any]:
    """Deploy the contract of EVM anchor ``name`` and remember it in the workspace.

    Returns:
        ``{"name", "chain_id", "contract", "tx_hash", "block_number"}``.

    Raises:
        AnchorError: no such anchor, its kind cannot deploy, it has a contract already,
            or the deployment failed.
    """
    entry = ws.settings.anchors.evm.get(name)
    if entry is None:
        known = ", ".join(sorted(ws.settings.anchors.evm)) or "none configured"
        raise AnchorError(f"no anchor anchors.evm.{name} ({known})")
    if entry.contract is not None:
        raise AnchorError(f"anchors.evm.{name}.contract is set ({entry.contract}): deployed")
    with ws.engine.connect() as conn:
        known_contract = remembered_contract(conn, name, entry.chain_id)
    if known_contract is not None:
        raise AnchorError(
            f"anchors.evm.{name}: this workspace deployed {known_contract} on chain"
            f" {entry.chain_id} already"
        )
    built = build(ws, entries={"evm": {name: dict(entry)}})[0]
    if built.anchor is None:
        raise AnchorError(built.error or f"anchors.evm.{name}: cannot be built")
    deploy_fn = getattr(built.anchor, "deploy", None)
    if not callable(deploy_fn):
        raise AnchorError(f"anchor kind {built.kind!r} has nothing to deploy")
    result = deploy_fn()
    data = {
        "name": name,
        "chain_id": int(_field(result, "chain_id") or entry.chain_id),
        "contract": str(_field(result, "contract")),
        "tx_hash": str(_field(result, "tx_hash")),
        "block_number": int(_field(result, "block_number")),
    }
    with ws.engine.begin() as conn:
        insert_or_ignore(
            conn,
            _DEPLOYMENTS,
            {"kind": "evm", **data, "deployed_at": now()},
            index_elements=["kind", "name", "chain_id"],
        )
    return data


def bundle_proof(
    ws: Workspace, bundle_id: str, *, anchors: Sequence[Configured] | None = None
) -> bytes:
    """The anchor proof file of bundle ``bundle_id`` (see
    :mod:`copyseal.anchors.proof_file`): from its receipt's checkpoint to, per anchor, the
    smallest anchored checkpoint that covers it.

    Raises:
        AnchorError: no such bundle, or no anchor has anchored a checkpoint covering it.
    """
    from copyseal.bundle.anchored import receipt_checkpoint
    from copyseal.db.schema.bundle import EvidenceBundle

    with ws.engine.connect() as conn:
        row = conn.execute(
            select(EvidenceBundle.path).where(EvidenceBundle.bundle_id == bundle_id)
        ).first()
    if row is None:
        raise AnchorError(f"bundle {bundle_id}: no such bundle in this workspace")
    checkpoint = receipt_checkpoint(ws.store.locate(row.path))
    groups = _covering(ws, checkpoint.size, anchors)
    if not groups:
        raise AnchorError(
            f"bundle {bundle_id}: no anchored checkpoint covers its size {checkpoint.size}"
            " yet (run 'copyseal anchors run')"
        )
    return _proof_file(ws, checkpoint, groups, bundle_id=bundle_id)


_Groups = dict[int, tuple[str, list[ProofEntry]]]


def _covering(ws: Workspace, size: int, anchors: Sequence[Configured] | None) -> _Groups:
    """Per anchored checkpoint size (of at least ``size``): its signed note and the proofs
    of the configured anchors whose smallest covering checkpoint it is."""
    chosen = build(ws) if anchors is None else anchors
    provers = {(c.kind, c.name): c.anchor for c in chosen if c.anchor is not None}
    groups: _Groups = {}
    with ws.engine.connect() as conn:
        covering = records_covering(conn, size)
    for note, record in covering:
        anchor = provers.get((record.kind, record.name))
        if anchor is None:
            continue  # an anchor no longer configured: nothing here can prove its record
        note_and_entries = groups.setdefault(record.checkpoint.size, (note, []))
        note_and_entries[1].append(
            ProofEntry(kind=record.kind, name=record.name, proof=anchor.prove(record))
        )
    return groups


def _proof_file(
    ws: Workspace,
    checkpoint: Checkpoint,
    groups: _Groups,
    *,
    bundle_id: str | None = None,
    entry: LoggedEntry | None = None,
) -> bytes:
    """The proof file from ``checkpoint`` (a receipt's) to each group's checkpoint."""
    ledger = ws.ledger()
    anchored = []
    for size in sorted(groups):
        note, entries = groups[size]
        stated = parse_checkpoint(parse_note(note).text)
        anchored.append(
            AnchoredCheckpoint(
                size=size,
                root=stated.root,
                note=note,
                consistency=tuple(ledger.consistency_proof(checkpoint.size, size)),
                anchors=tuple(entries),
            )
        )
    return format_proof_file(
        ProofFile(
            bundle_id=bundle_id,
            origin=checkpoint.origin,
            size=checkpoint.size,
            root=checkpoint.root,
            anchored=tuple(anchored),
            entry=entry,
        )
    )


def checkpoint_proof(
    ws: Workspace, checkpoint: Checkpoint, *, anchors: Sequence[Configured] | None = None
) -> bytes:
    """The anchor proof file of every entry below ``checkpoint`` (one of the log's signed
    checkpoints): what a receipt made against that checkpoint needs to be anchored too.

    Raises:
        AnchorError: no anchor has anchored a checkpoint covering it.
    """
    groups = _covering(ws, checkpoint.size, anchors)
    if not groups:
        raise AnchorError(
            f"no anchored checkpoint covers size {checkpoint.size} yet (run 'copyseal anchors run')"
        )
    return _proof_file(ws, checkpoint, groups)


def work_proof(
    ws: Workspace, work_id: str, *, anchors: Sequence[Configured] | None = None
) -> tuple[str, bytes]:
    """A work's registration receipt and its anchor proof file.

    The receipt (C2SP ``tlog-proof@v1``) proves the work's ``work-registration`` statement
    at the smallest anchored checkpoint that covers it, so the proof file starts where the
    receipt ends; the file carries the statement itself (which names the SHA-256 of the
    original), for the receipt to be checked against the original's bytes.

    Returns:
        ``(receipt text, proof file bytes)``.

    Raises:
        AnchorError: no such work, its registration is not in the ledger yet, or no
            anchor has anchored a checkpoint covering it.
    """
    from copyseal.db.schema.works import Work

    with ws.engine.connect() as conn:
        row = conn.execute(select(Work.ledger_index).where(Work.work_id == work_id)).first()
    if row is None:
        raise AnchorError(f"work {work_id}: no such work in this workspace")
    if row.ledger_index is None:
        raise AnchorError(f"work {work_id}: its registration is not in the ledger yet")
    return entry_proof(ws, int(row.ledger_index), anchors=anchors, what=f"work {work_id}")


def entry_proof(
    ws: Workspace,
    index: int,
    *,
    anchors: Sequence[Configured] | None = None,
    what: str | None = None,
) -> tuple[str, bytes]:
    """Ledger entry ``index``'s receipt and its anchor proof file, as :func:`work_proof`
    makes them for a registration: for any statement (a review decision, an export, a
    later fact), so its proof can be had once an anchor covers it.

    Raises:
        AnchorError: no such entry, or no anchor has anchored a checkpoint covering it.
    """
    ledger = ws.ledger()
    if not 0 <= index < ledger.size():
        raise AnchorError(f"no ledger entry {index} (the log has {ledger.size()} entries)")
    groups = _covering(ws, index + 1, anchors)
    if not groups:
        raise AnchorError(
            f"{what or 'entry ' + str(index)}: no anchored checkpoint covers its ledger"
            f" entry {index} yet (run 'copyseal anchors run')"
        )
    signed = ledger.checkpoint_at(min(groups))
    if signed is None:
        raise AnchorError(f"the log holds no checkpoint at anchored size {min(groups)}")
    item = ledger.entry(index)
    receipt = Receipt(
        index=index,
        proof=tuple(ledger.inclusion_proof(index, signed.size)),
        checkpoint_note=signed.note,
    ).format()
    entry = LoggedEntry(index=index, entry_type=item.entry_type, data=item.data)
    return receipt, _proof_file(ws, signed.checkpoint, groups, entry=entry)
