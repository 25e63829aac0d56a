"""The market contract over JSON-RPC (web3.py): deploy, offer, withdraw, buy, read offers
and ``LicenceSold`` events.

Transactions are signed locally (``eth_sendRawTransaction``); the node never holds a key.
Every foreign exception (web3's, the HTTP client's, a node's JSON-RPC error, a contract's
revert) becomes a :class:`MarketError` whose message says what was being done.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3Exception
from web3.types import TxParams, Wei

from copyseal.anchors.evm import read_key
from copyseal.market._contract import LICENCE_SOLD, OFFER_MADE, shipped
from copyseal.market._errors import MarketError

__all__ = ["MarketChain", "MarketError", "Sale", "Sent", "read_key"]

_POLL = 0.1


@dataclass(frozen=True, kw_only=True)
class Sent:
    """A mined transaction of the market: its hash, block, gas, and the events it logged."""

    tx_hash: str
    block_number: int
    gas_used: int
    effective_gas_price: int
    contract: str | None = None
    logs: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, kw_only=True)
class Sale:
    """One ``LicenceSold`` event."""

    offer_id: int
    work_sha256: str
    buyer: str
    licensee: bytes
    price_wei: int
    valid_until: int
    tx_hash: str
    log_index: int
    block_number: int
    block_time: int


@contextmanager
def _rpc(what: str) -> Iterator[None]:
    try:
        yield
    except MarketError:
        raise
    except ContractLogicError as e:
        raise MarketError(f"{what}: the contract refused: {e.message or e}") from e
    except (Web3Exception, requests.RequestException, OSError, ValueError, KeyError) as e:
        raise MarketError(f"{what}: {type(e).__name__}: {e}") from e


class MarketChain:
    """The node at ``rpc_url``, which must serve chain ``chain_id``.

    Raises:
        MarketError: the node is unreachable or serves another chain.
    """

    def __init__(self, *, rpc_url: str, chain_id: int, timeout: float = 30.0) -> None:
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        self._timeout = timeout
        with _rpc(f"cannot reach the EVM node at {rpc_url}"):
            served = int(self.w3.eth.chain_id)
        if served != chain_id:
            raise MarketError(f"the node at {rpc_url} serves chain {served}, not {chain_id}")
        self.chain_id = chain_id

    def contract(self, address: str) -> Any:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=shipped().abi)

    @staticmethod
    def address(text: str) -> str:
        """``text`` as an EIP-55 address (mixed-case checksum).

        Raises:
            MarketError: not a 20-byte hex address.
        """
        try:
            return str(Web3.to_checksum_address(text))
        except (ValueError, TypeError):
            raise MarketError(f"{text!r} is not an address (0x and 40 hex digits)") from None

    def check_code(self, address: str) -> None:
        """Refuse an address whose code is not the market contract's runtime code.

        Raises:
            MarketError: another code, or none.
        """
        with _rpc("cannot read the contract's code"):
            code = bytes(self.w3.eth.get_code(Web3.to_checksum_address(address)))
        if code != shipped().runtime:
            what = "no code" if not code else f"{len(code)} bytes of other code"
            raise MarketError(
                f"{address} holds {what}, not copyseal's licence market contract"
                " (deploy it with `copyseal market deploy`)"
            )

    def send(self, signer: LocalAccount, tx: TxParams, what: str) -> Sent:
        """Sign ``tx`` locally (chain, nonce, EIP-1559 fees, estimated gas), send it and wait
        for its receipt; a reverted transaction is refused already at the gas estimate."""
        eth = self.w3.eth
        with _rpc(what):
            tx = {**tx, "from": signer.address, "chainId": self.chain_id}
            tx["nonce"] = eth.get_transaction_count(signer.address, "pending")
            base_fee = eth.get_block("latest").get("baseFeePerGas")
            if base_fee is None:
                tx["gasPrice"] = eth.gas_price
            else:
                tip = eth.max_priority_fee
                tx["maxPriorityFeePerGas"] = tip
                tx["maxFeePerGas"] = Wei(2 * base_fee + tip)
            tx["gas"] = eth.estimate_gas(tx)
            signed = signer.sign_transaction(tx)  # type: ignore[arg-type]
            tx_hash = eth.send_raw_transaction(signed.raw_transaction)
            receipt = eth.wait_for_transaction_receipt(
                tx_hash, timeout=self._timeout, poll_latency=_POLL
            )
        if receipt["status"] != 1:
            raise MarketError(f"{what}: transaction {tx_hash.to_0x_hex()} failed")
        address = receipt.get("contractAddress")
        return Sent(
            tx_hash=HexBytes(receipt["transactionHash"]).to_0x_hex(),
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            effective_gas_price=int(receipt.get("effectiveGasPrice", 0)),
            contract=None if address is None else str(Web3.to_checksum_address(address)),
            logs=tuple(dict(log) for log in receipt["logs"]),
        )

    def deploy(self, signer: LocalAccount) -> Sent:
        """Deploy the shipped market contract from ``signer``'s account."""
        return self.send(
            signer, {"data": HexBytes(shipped().bytecode)}, "cannot deploy the market contract"
        )

    def call(self, signer: LocalAccount, address: str, fn: str, *args: Any, value: int = 0) -> Sent:
        """Send the market's ``fn(*args)`` (with ``value`` wei) from ``signer``."""
        with _rpc(f"cannot call {fn}"):
            data = self.contract(address).encode_abi(fn, args=list(args))
        tx: TxParams = {"to": Web3.to_checksum_address(address), "data": data}
        if value:
            tx["value"] = Wei(value)
        return self.send(signer, tx, f"cannot {fn}")

    def offer_made(self, address: str, sent: Sent) -> int:
        """The offer id of an ``offer`` transaction (its ``OfferMade`` event)."""
        event = self.contract(address).events.OfferMade()
        topic = Web3.keccak(text=OFFER_MADE)
        with _rpc("cannot read the offer's event"):
            events = [
                event.process_log(log)
                for log in sent.logs
                if log["topics"] and bytes(log["topics"][0]) == topic
            ]
        if len(events) != 1:
            raise MarketError(f"transaction {sent.tx_hash} made {len(events)} offers, not 1")
        return int(events[0]["args"]["offer_id"])

    def offers(self, address: str) -> list[dict[str, Any]]:
        """Every offer the contract holds, oldest first (its ``offers(id)`` view)."""
        with _rpc("cannot read the market's offers"):
            instance = self.contract(address)
            count = int(instance.functions.offer_count().call())
            rows = []
            for offer_id in range(1, count + 1):
                author, work, price, duration, terms, active = instance.functions.offers(
                    offer_id
                ).call()
                rows.append(
                    {
                        "offer_id": offer_id,
                        "author": str(author),
                        "work_sha256": bytes(work).hex(),
                        "price_wei": int(price),
                        "duration_s": int(duration),
                        "terms_sha256": bytes(terms).hex(),
                        "active": bool(active),
                    }
                )
        return rows

    def sales(self, address: str, *, from_block: int) -> list[Sale]:
        """Every canonical ``LicenceSold`` event since ``from_block`` (``eth_getLogs``),
        in chain order."""
        topic = Web3.keccak(text=LICENCE_SOLD).to_0x_hex()
        with _rpc("cannot read the market's sales"):
            raw = self.w3.eth.get_logs(
                {
                    "address": Web3.to_checksum_address(address),
                    "fromBlock": from_block,
                    "toBlock": "latest",
                    "topics": [topic],
                }
            )
            event = self.contract(address).events.LicenceSold()
            times: dict[int, int] = {}
            sales = []
            for log in raw:
                if log.get("removed"):
                    continue
                args = event.process_log(log)["args"]
                number = int(log["blockNumber"])
                if number not in times:
                    times[number] = int(self.w3.eth.get_block(number)["timestamp"])
                sales.append(
                    Sale(
                        offer_id=int(args["offer_id"]),
                        work_sha256=bytes(args["work"]).hex(),
                        buyer=str(args["buyer"]),
                        licensee=bytes(args["licensee"]),
                        price_wei=int(args["price_wei"]),
                        valid_until=int(args["valid_until"]),
                        tx_hash=HexBytes(log["transactionHash"]).to_0x_hex(),
                        log_index=int(log["logIndex"]),
                        block_number=number,
                        block_time=times[number],
                    )
                )
        return sales
