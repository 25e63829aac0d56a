"""The EVM anchor itself: :class:`EvmAnchor` (kind ``evm``) and its contract's deployment."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from copyseal.anchors.base import (
    AnchorContext,
    AnchorError,
    AnchorRecord,
    AnchorVerificationError,
    Proven,
)
from copyseal.anchors.evm._chain import read_key
from copyseal.anchors.evm._proof import check, make, origin_hash
from copyseal.errors import VerificationError
from copyseal.ledger.checkpoint import Checkpoint
from copyseal.ledger.note import parse_vkey

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from copyseal.anchors.evm._chain import Chain, Mined

__all__ = ["KIND", "Deployment", "EvmAnchor", "record_payload"]

#: This kind's key in :data:`copyseal.anchors.ANCHORS`.
KIND = "evm"

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_TIMEOUT = 120.0  # seconds to wait for a transaction to be mined
_SLOT = 15.0  # seconds per confirmation to wait, beyond: Ethereum's slots are 12 s
_ATTEMPTS = 3  # sends of one checkpoint when its blocks keep being reorganised away


def _address(value: object, what: str) -> bytes:
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        raise AnchorError(f"{what} is not a 0x address of 40 hex digits: {value!r}")
    return bytes.fromhex(value[2:])


def _checksummed(address: bytes) -> str:
    """An address as EIP-55 writes it (mixed-case checksum), as explorers show it."""
    from web3 import Web3

    return str(Web3.to_checksum_address(address))


@dataclass(frozen=True, kw_only=True)
class Deployment:
    """A deployed anchor contract: its address (EIP-55), the deploying transaction and its
    block."""

    chain_id: int
    contract: str
    tx_hash: str
    block_number: int

    def to_json(self) -> dict[str, Any]:
        """What ``copyseal anchors deploy --json`` prints (beside the anchor's name)."""
        return {
            "chain_id": self.chain_id,
            "contract": self.contract,
            "tx_hash": self.tx_hash,
            "block_number": self.block_number,
        }


class EvmAnchor:
    """Checkpoints anchored by the anchor contract on an EVM chain (kind ``evm``).

    Args:
        name: which configured chain anchor this is (``anchors.evm.NAME``).
        origin: the log's origin; checkpoints of other logs are refused.
        rpc_url: the node to anchor through (None: verify only).
        chain_id: the chain the node must serve; with ``contract`` and ``anchorer`` it is
            also what a proof must show (None: whatever the proof states).
        signer: the anchoring account (None: verify only).
        contract: the anchor contract's address (None: not deployed yet).
        anchorer: the address a proof must show, when there is no signer.
        confirmations: blocks after the anchor's block to wait for.
        from_block: where :meth:`find` starts searching the chain (the deployment's block).
        timeout: seconds to wait for a transaction to be mined (and, for confirmations,
            15 s more per block).
    """

    def __init__(
        self,
        *,
        name: str,
        origin: str,
        rpc_url: str | None = None,
        chain_id: int | None = None,
        signer: LocalAccount | None = None,
        contract: bytes | None = None,
        anchorer: bytes | None = None,
        confirmations: int = 0,
        from_block: int = 0,
        timeout: float = _TIMEOUT,
    ) -> None:
        if signer is not None:
            own = bytes.fromhex(signer.address[2:])
            if anchorer is not None and anchorer != own:
                raise AnchorError("the EVM anchor's key is not the anchorer's address")
            anchorer = own
        if confirmations < 0:
            raise AnchorError("confirmations must not be negative")
        self._name = name
        self._origin = origin
        self._rpc_url = rpc_url
        self._chain_id = chain_id
        self._signer = signer
        self._contract = contract
        self._anchorer = anchorer
        self._confirmations = confirmations
        self._from_block = from_block
        self._timeout = timeout

    @classmethod
    def from_context(cls, context: AnchorContext) -> EvmAnchor:
        """Built from ``anchors.evm.NAME`` (``context.options``); without options it can
        only verify proofs, taking the chain, contract and anchorer they state.

        Raises:
            VerificationError: the vkey is malformed.
            AnchorError: a malformed option, or a key file others may read.
        """
        options: Mapping[str, Any] = context.options
        origin = parse_vkey(context.vkey).name if context.origin is None else context.origin
        key_file = options.get("key_file")
        contract = options.get("contract")
        anchorer = options.get("anchorer")
        chain_id = options.get("chain_id")
        if chain_id is not None and (not isinstance(chain_id, int) or chain_id <= 0):
            raise AnchorError(f"chain_id is not a positive integer: {chain_id!r}")
        return cls(
            name=context.name or KIND,
            origin=origin,
            rpc_url=None if options.get("rpc_url") is None else str(options["rpc_url"]),
            chain_id=chain_id,
            signer=None if key_file is None else read_key(Path(key_file)),
            contract=None if contract is None else _address(contract, "contract"),
            anchorer=None if anchorer is None else _address(anchorer, "anchorer"),
            confirmations=int(options.get("confirmations") or 0),
            from_block=int(options.get("from_block") or 0),
        )

    @property
    def kind(self) -> str:
        return KIND

    @property
    def name(self) -> str:
        return self._name

    @property
    def address(self) -> str | None:
        """The anchoring account's address (EIP-55), None when it is not known."""
        return None if self._anchorer is None else _checksummed(self._anchorer)

    def _chain(self) -> Chain:
        from copyseal.anchors.evm._chain import Chain

        if self._rpc_url is None or self._chain_id is None:
            raise AnchorError(f"the EVM anchor {self._name!r} has no rpc_url and chain_id")
        return Chain(rpc_url=self._rpc_url, chain_id=self._chain_id, timeout=self._timeout)

    def _ready(self, checkpoint: Checkpoint) -> tuple[Chain, LocalAccount, bytes]:
        if self._signer is None:
            raise AnchorError(f"the EVM anchor {self._name!r} has no key_file: it can only verify")
        if self._contract is None:
            raise AnchorError(f"the EVM anchor {self._name!r} has no contract: deploy it first")
        if checkpoint.origin != self._origin:
            raise AnchorError(
                f"checkpoint of log {checkpoint.origin!r} given to the anchor of {self._origin!r}"
            )
        return self._chain(), self._signer, self._contract

    def deploy(self) -> Deployment:
        """Deploy the anchor contract from this anchor's account.

        Raises:
            AnchorError: no key, the node is unreachable or refuses.
        """
        if self._signer is None:
            raise AnchorError(f"the EVM anchor {self._name!r} has no key_file to deploy with")
        mined = self._chain().deploy(self._signer)
        assert mined.contract is not None
        return Deployment(
            chain_id=self._chain_id or 0,
            contract=_checksummed(mined.contract),
            tx_hash="0x" + mined.tx_hash.hex(),
            block_number=mined.block_number,
        )

    def latest(self, origin: str | None = None) -> tuple[int, bytes]:
        """The size and root this anchor's account last anchored for log ``origin`` (default:
        this anchor's log), read back from the contract (``(0, 0x00…)``: none yet).

        Raises:
            AnchorError: no contract or account, or the node is down.
        """
        if self._contract is None or self._anchorer is None:
            raise AnchorError(f"the EVM anchor {self._name!r} has no contract or account")
        origin_text = self._origin if origin is None else origin
        return self._chain().latest(self._contract, self._anchorer, origin_hash(origin_text))

    def read_back(self) -> Checkpoint:
        """The checkpoint of this log the chain holds for this anchor's account now (read
        from the contract: what ``ledger audit`` holds the log against, beside the
        workspace's own records); size 0 when none was anchored.

        Raises:
            AnchorError: as :meth:`latest`.
        """
        size, root = self.latest()
        return Checkpoint(origin=self._origin, size=size, root=root)

    def anchor(self, checkpoint: Checkpoint) -> AnchorRecord:
        """Anchor ``checkpoint`` on the chain, or find it there if it already is.

        Waits for the transaction to be mined and ``confirmations`` blocks on top; a block
        reorganised away meanwhile means the checkpoint is anchored again.

        Raises:
            AnchorError: no key or contract, the node is down or serves another chain, the
                chain already holds a size at least as large for this log, or the chain
                holds another root for this size (a rewritten log).
        """
        chain, signer, contract = self._ready(checkpoint)
        chain.check_code(contract)
        origin = origin_hash(checkpoint.origin)
        for _ in range(_ATTEMPTS):
            found = self._find(chain, checkpoint)
            if found is not None:
                return found
            size, _root = chain.latest(contract, self._own(), origin)
            if size >= checkpoint.size:
                raise AnchorError(
                    f"the chain holds size {size} of log {checkpoint.origin!r} by"
                    f" {self.address}: size {checkpoint.size} does not grow it"
                )
            tx_hash = chain.send_anchor(signer, contract, origin, checkpoint.size, checkpoint.root)
            mined = self._mined(chain, tx_hash)
            if mined is None:
                continue  # dropped with a reorganised block: look again, then send again
            record = self._confirmed(chain, checkpoint, mined)
            if record is not None:
                return record
        raise AnchorError(f"the anchor's block was reorganised away {_ATTEMPTS} times")

    def _mined(self, chain: Chain, tx_hash: bytes) -> Mined | None:
        """Wait for ``tx_hash`` to be mined; None if the node forgot it meanwhile (its block
        was reorganised away and no pool kept it), so that it is sent again.

        Raises:
            AnchorError: still pending after the timeout.
        """
        deadline = time.monotonic() + self._timeout
        while True:
            mined = chain.receipt(tx_hash, wait=min(2.0, self._timeout))
            if mined is not None:
                return mined
            if not chain.known(tx_hash):
                return None
            if time.monotonic() >= deadline:
                raise AnchorError(f"the anchor transaction 0x{tx_hash.hex()} was not mined in time")

    def find(self, checkpoint: Checkpoint) -> AnchorRecord | None:
        """The record of ``checkpoint`` if this anchor's account already anchored it (a
        transaction sent but not recorded), found by its ``Anchored`` event
        (``eth_getLogs``) and confirmed as :meth:`anchor` confirms; None if it is not there.

        Raises:
            AnchorError: as :meth:`anchor`.
        """
        chain, _signer, _contract = self._ready(checkpoint)
        return self._find(chain, checkpoint)

    def _own(self) -> bytes:
        assert self._anchorer is not None
        return self._anchorer

    def _find(self, chain: Chain, checkpoint: Checkpoint) -> AnchorRecord | None:
        assert self._contract is not None
        events = chain.find(
            self._contract,
            self._own(),
            origin_hash(checkpoint.origin),
            checkpoint.size,
            from_block=self._from_block,
        )
        for tx_hash, data in events:
            if data[32:] != checkpoint.root:
                raise AnchorError(
                    f"the chain holds another root for size {checkpoint.size} of log"
                    f" {checkpoint.origin!r} (transaction 0x{tx_hash.hex()}): the log was rewritten"
                )
            mined = chain.receipt(tx_hash)
            if mined is not None:
                record = self._confirmed(chain, checkpoint, mined)
                if record is not None:
                    return record
        return None

    def _confirmed(self, chain: Chain, checkpoint: Checkpoint, mined: Mined) -> AnchorRecord | None:
        """The record of a mined anchor once ``confirmations`` blocks are on top of it; None
        when its block was reorganised away and the transaction is in no other block."""
        for _ in range(_ATTEMPTS):
            chain.wait_for_head(
                mined.block_number + self._confirmations,
                f"{self._confirmations} confirmations of block {mined.block_number}",
                self._timeout + _SLOT * self._confirmations,
            )
            canonical = chain.canonical(mined.block_number)
            if canonical is not None and canonical[0] == mined.block_hash:
                return self._record(chain, checkpoint, mined, canonical[1])
            moved = chain.receipt(mined.tx_hash)  # mined again in another block?
            if moved is None:
                return None
            mined = moved
        return None

    def _record(
        self, chain: Chain, checkpoint: Checkpoint, mined: Mined, timestamp: int
    ) -> AnchorRecord:
        assert self._contract is not None
        payload = {
            "chain_id": chain.chain_id,
            "contract": _checksummed(self._contract),
            "anchorer": _checksummed(self._own()),
            "tx_hash": "0x" + mined.tx_hash.hex(),
            "transaction_index": mined.transaction_index,
            "block_number": mined.block_number,
            "block_hash": "0x" + mined.block_hash.hex(),
            "log_index": mined.log_index,
            "gas_used": mined.gas_used,
        }
        return AnchorRecord(
            kind=KIND,
            name=self._name,
            checkpoint=checkpoint,
            payload=json.dumps(payload).encode("utf-8"),
            anchored_at=datetime.fromtimestamp(timestamp, UTC),
        )

    def prove(self, record: AnchorRecord) -> bytes:
        """The self-contained proof of ``record``, built from its block as the node serves it.

        Raises:
            AnchorError: another anchor's record, the node is down, or the record's block
                was reorganised away (anchor the checkpoint again).
        """
        if record.kind != KIND or record.name != self._name:
            raise AnchorError(
                f"a {record.kind} record of {record.name!r} given to the EVM anchor {self._name!r}"
            )
        payload = record_payload(record)
        chain = self._chain()
        if payload["chain_id"] != chain.chain_id:
            raise AnchorError(f"the record is of chain {payload['chain_id']}, not {chain.chain_id}")
        block_hash = bytes.fromhex(payload["block_hash"][2:])
        canonical = chain.canonical(payload["block_number"])
        if canonical is None or canonical[0] != block_hash:
            raise AnchorError(
                f"block {payload['block_number']} ({payload['block_hash']}) of the anchor was"
                f" reorganised away: anchor the checkpoint again"
            )
        header, transactions, receipts = chain.block(block_hash)
        try:
            proof = make(
                checkpoint=record.checkpoint,
                chain_id=payload["chain_id"],
                contract=bytes.fromhex(payload["contract"][2:]),
                anchorer=bytes.fromhex(payload["anchorer"][2:]),
                transaction_index=payload["transaction_index"],
                header=header,
                transactions=transactions,
                receipts=receipts,
            )
            check(proof, record.checkpoint)
        except (ValueError, VerificationError) as e:
            raise AnchorError(
                f"cannot prove the anchor in block {payload['block_hash']}: {e}"
            ) from e
        return proof

    def verify(self, proof: bytes, checkpoint: Checkpoint) -> Proven:
        """Check offline that ``proof`` shows ``checkpoint`` anchored in the block it names
        (by the configured chain, contract and anchorer, when they are configured).

        Raises:
            AnchorVerificationError: anything at all is wrong.
        """
        if checkpoint.origin != self._origin:
            raise AnchorVerificationError(
                f"checkpoint of log {checkpoint.origin!r} given to the anchor of {self._origin!r}"
            )
        anchored = check(proof, checkpoint)
        for what, expected, stated in (
            ("chain", self._chain_id, anchored.chain_id),
            ("contract", self._contract, anchored.contract),
            ("anchorer", self._anchorer, anchored.anchorer),
        ):
            if expected is not None and expected != stated:
                raise AnchorVerificationError(f"EVM anchor proof: another {what} than configured")
        return Proven(
            kind=KIND,
            name=self._name,
            origin=checkpoint.origin,
            size=checkpoint.size,
            root=checkpoint.root,
            time=anchored.block_time,
            block=anchored.block_number,
            detail=anchored.describe(),
        )


def record_payload(record: AnchorRecord) -> dict[str, Any]:
    """The JSON object an EVM anchor record carries (chain, contract, transaction, block).

    Raises:
        AnchorError: the payload is not such an object.
    """
    try:
        payload = json.loads(record.payload)
        if not isinstance(payload, dict):
            raise ValueError("not an object")
        return payload
    except ValueError as e:
        raise AnchorError(f"the EVM anchor record's payload is malformed: {e}") from e
