"""Asking a node whether an anchor's block is canonical (:func:`check_online`)."""

from __future__ import annotations

import base64

from copyseal import _json
from copyseal.anchors.base import AnchorRecord, AnchorVerificationError
from copyseal.anchors.evm._anchor import record_payload
from copyseal.anchors.evm._proof import check
from copyseal.errors import LedgerError
from copyseal.ledger.checkpoint import Checkpoint

__all__ = ["check_online"]


def check_online(
    proof_or_record: bytes | AnchorRecord, rpc_url: str, confirmations: int = 0
) -> str:
    """Ask the node at ``rpc_url`` whether the block of an anchor proof (checked offline
    first, against the checkpoint it states) or of a record is canonical on its chain, with
    at least ``confirmations`` blocks on top; one line saying so.

    Raises:
        AnchorVerificationError: the proof is not valid, the node serves another chain, the
            block is not canonical there or not confirmed enough.
        AnchorError: the node cannot be reached.
    """
    from copyseal.anchors.evm._chain import Chain

    if isinstance(proof_or_record, AnchorRecord):
        payload = record_payload(proof_or_record)
        chain_id, number = int(payload["chain_id"]), int(payload["block_number"])
        block_hash = bytes.fromhex(str(payload["block_hash"])[2:])
    else:
        anchored = check(proof_or_record, _stated(proof_or_record))
        chain_id, number, block_hash = anchored.chain_id, anchored.block_number, anchored.block_hash
    chain = Chain(rpc_url=rpc_url, chain_id=None)
    if chain.chain_id != chain_id:
        raise AnchorVerificationError(
            f"the node at {rpc_url} serves chain {chain.chain_id}, not the proof's {chain_id}"
        )
    canonical = chain.canonical(number)
    if canonical is None or canonical[0] != block_hash:
        raise AnchorVerificationError(
            f"block {number} (hash 0x{block_hash.hex()}) is not in chain {chain_id}'s canonical"
            f" chain at {rpc_url}"
        )
    depth = chain.head() - number
    if depth < confirmations:
        raise AnchorVerificationError(
            f"block {number} of chain {chain_id} has {depth} confirmations,"
            f" fewer than {confirmations}"
        )
    return (
        f"block {number} (hash 0x{block_hash.hex()}) is canonical on chain {chain_id} at"
        f" {rpc_url}, with {depth} confirmations"
    )


def _stated(proof: bytes) -> Checkpoint:
    """The checkpoint a proof states, unchecked (:func:`check` then checks it)."""
    try:
        stated = _json.loads(proof)["checkpoint"]
        return Checkpoint(
            origin=stated["origin"], size=stated["size"], root=base64.b64decode(stated["root"])
        )
    except (ValueError, KeyError, TypeError, LedgerError) as e:
        raise AnchorVerificationError(f"EVM anchor proof: malformed ({e})") from e
