"""A bundle's verification with an anchor proof file's checks added, and the checkpoint
its receipt states (for building such a file). Offline: no database, no network unless an
anchor's online check is asked for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from copyseal.anchors import stated_checkpoint
from copyseal.anchors.proof_file import verify_proof_file
from copyseal.bundle._tags import RECEIPT
from copyseal.bundle.check import BundleVerification, Check
from copyseal.errors import VerificationError
from copyseal.ledger.checkpoint import Checkpoint
from copyseal.ledger.proof import parse_receipt

__all__ = ["receipt_checkpoint", "with_anchor_proof"]


def receipt_checkpoint(folder: Path) -> Checkpoint:
    """The checkpoint a bundle folder's receipt states (parsed, not verified: for building
    an anchor proof from the workspace's own bundle).

    Raises:
        VerificationError: no readable, well-formed receipt.
    """
    try:
        receipt = parse_receipt((folder / RECEIPT).read_bytes())
    except OSError as e:
        raise VerificationError(f"{RECEIPT}: missing or unreadable") from e
    return stated_checkpoint(receipt.checkpoint_note)


def with_anchor_proof(
    result: BundleVerification,
    data: bytes,
    *,
    vkey: str | None = None,
    options: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    min_witnesses: int = 0,
    online: bool = False,
) -> BundleVerification:
    """``result`` with an anchor proof file's checks added after its own (see
    :func:`copyseal.anchors.proof_file.verify_proof_file`): ``anchor-consistency``, one
    ``anchor:KIND:NAME`` per anchor, ``anchor-witnesses`` when required; what each anchor
    proves goes to the JSON document's ``anchors`` list.

    Args:
        result: A bundle's verification (its checkpoint is where the proof starts).
        data: The anchor proof file's bytes.
        vkey: The log's verifier key (default: the one the bundle was checked with).
        options: Per kind, the public material to try (CA files, witness vkeys, an RPC URL).
        min_witnesses: Cosignatures required from the given witness keys.
        online: Run the kinds' online checks too.
    """
    vkey = vkey or result.vkey
    if result.checkpoint is None or vkey is None:
        added = [
            Check(
                name="anchor-consistency",
                ok=False,
                detail="the bundle's checkpoint is not proven: nothing to anchor",
            )
        ]
        proven: list[dict[str, Any]] = []
    else:
        found = verify_proof_file(
            data,
            checkpoint=result.checkpoint,
            vkey=vkey,
            options=options,
            min_witnesses=min_witnesses,
            online=online,
            bundle_id=None if result.manifest is None else result.manifest.bundle_id,
        )
        added = [Check(name=c.name, ok=c.ok, detail=c.detail) for c in found]
        proven = [c.proven.to_json() for c in found if c.proven is not None]
    return replace(
        result,
        checks=(*result.checks, *added),
        extra={**result.extra, "anchors": proven},
    )
