"""Talking to an EVM node over JSON-RPC with web3.py: deploy, anchor, find, fetch a block.

Every foreign exception (web3's, the HTTP client's, a node's JSON-RPC error) becomes an
:class:`~copyseal.errors.AnchorError` here. Transactions are signed locally with the
anchoring account's key (``eth_sendRawTransaction``); the node never holds the key.
"""

from __future__ import annotations

import stat
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3Exception
from web3.types import TxParams, TxReceipt, Wei

from copyseal.anchors.evm._contract import ANCHORED_TOPIC, shipped
from copyseal.anchors.evm._proof import anchored_data
from copyseal.anchors.evm._rlp import Item, encode, encode_int
from copyseal.errors import AnchorError

# py_ecc, which eth_account imports, raises the interpreter's recursion limit to 100000 at
# import (py_ecc/__init__.py); at that limit ~200 000 nested JSON brackets overflow the C
# stack and kill the process (SIGSEGV, measured with CPython 3.11) where a lower limit
# raises RecursionError. copyseal runs no py_ecc code (secp256k1 signing is eth_keys'),
# so the limit goes back down (10 000 still raised RecursionError, not SIGSEGV, here).
sys.setrecursionlimit(min(sys.getrecursionlimit(), 10_000))

__all__ = ["Chain", "Mined", "account", "read_key"]

_POLL = 0.2  # seconds between looks at the chain while waiting


def read_key(path: Path) -> LocalAccount:
    """The account whose hex private key is in ``path``, a file only its owner may read
    (the key is never put in a message). The EVM anchor and the licence market both read
    their keys here.

    Raises:
        AnchorError: the file is readable by others, unreadable, or holds no private key.
    """
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise AnchorError(
                f"key file {path} may be read by group or others (mode {stat.filemode(mode)});"
                f" chmod 600 it"
            )
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as e:
        raise AnchorError(f"cannot read key file {path}: {type(e).__name__}") from None
    return account(text)


def account(key: str) -> LocalAccount:
    """The account of a hex private key (the key is never put in a message).

    Raises:
        AnchorError: not a private key.
    """
    try:
        signer: LocalAccount = Account.from_key(key.strip())
    except Exception:  # eth_keys raises several types; none of them is to be shown
        raise AnchorError("the key file does not hold a hex private key") from None
    return signer


@dataclass(frozen=True, kw_only=True)
class Mined:
    """A mined transaction: where it is, and the gas it used."""

    tx_hash: bytes
    block_number: int
    block_hash: bytes
    transaction_index: int
    gas_used: int
    contract: bytes | None = None  # a deployment's new contract
    log_index: int | None = None  # the Anchored event's index in the block


@contextmanager
def _rpc(what: str) -> Iterator[None]:
    try:
        yield
    except AnchorError:
        raise
    except ContractLogicError as e:
        raise AnchorError(f"{what}: the contract refused: {e.message or e}") from e
    except (
        Web3Exception,
        requests.RequestException,
        OSError,
        ValueError,
        KeyError,
        TypeError,
    ) as e:
        raise AnchorError(f"{what}: {type(e).__name__}: {e}") from e


class Chain:
    """One node of chain ``chain_id`` at ``rpc_url``.

    ``chain_id`` None: whichever chain the node serves.

    Raises:
        AnchorError: the node is unreachable or serves another chain.
    """

    def __init__(self, *, rpc_url: str, chain_id: int | None, timeout: float = 30.0) -> None:
        self._w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        self._timeout = timeout
        with _rpc(f"cannot reach the EVM node at {rpc_url}"):
            served = int(self._w3.eth.chain_id)
        #: The chain the node serves (``eth_chainId``).
        self.chain_id = served
        if chain_id is not None and served != chain_id:
            raise AnchorError(f"the node at {rpc_url} serves chain {served}, not {chain_id}")

    def _request(self, method: str, params: list[Any]) -> Any:
        """A raw JSON-RPC call (hex strings, as the node sends them)."""
        response = self._w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in response:
            raise AnchorError(f"{method}: {response['error']}")
        return response["result"]

    def _send(self, signer: LocalAccount, tx: TxParams) -> bytes:
        """Fill in chain, nonce, fees and the estimated gas, sign locally, send."""
        eth = self._w3.eth
        tx = {**tx, "from": signer.address, "chainId": self.chain_id}
        tx["nonce"] = eth.get_transaction_count(signer.address, "pending")
        base_fee = eth.get_block("latest").get("baseFeePerGas")
        if base_fee is None:  # a chain without EIP-1559 (some consortium chains)
            tx["gasPrice"] = eth.gas_price
        else:  # EIP-1559: room for the base fee to double before the transaction is mined
            tip = eth.max_priority_fee
            tx["maxPriorityFeePerGas"] = tip
            tx["maxFeePerGas"] = Wei(2 * base_fee + tip)
        tx["gas"] = eth.estimate_gas(tx)
        signed = signer.sign_transaction(tx)  # type: ignore[arg-type]
        return bytes(eth.send_raw_transaction(signed.raw_transaction))

    def _mined(self, receipt: TxReceipt) -> Mined:
        if receipt["status"] != 1:
            raise AnchorError(f"transaction 0x{bytes(receipt['transactionHash']).hex()} failed")
        contract = receipt.get("contractAddress")
        logs = [
            log
            for log in receipt["logs"]
            if log["topics"] and bytes(log["topics"][0]) == ANCHORED_TOPIC
        ]
        return Mined(
            tx_hash=bytes(receipt["transactionHash"]),
            block_number=receipt["blockNumber"],
            block_hash=bytes(receipt["blockHash"]),
            transaction_index=receipt["transactionIndex"],
            gas_used=receipt["gasUsed"],
            contract=bytes.fromhex(contract[2:]) if contract else None,
            log_index=logs[0]["logIndex"] if logs else None,
        )

    def receipt(self, tx_hash: bytes, *, wait: float = 0.0) -> Mined | None:
        """The transaction's receipt as the node sees it now (None: not in a block), waiting
        up to ``wait`` seconds for it to be mined."""
        with _rpc("cannot read a receipt"):
            deadline = time.monotonic() + wait
            while True:
                raw = self._request("eth_getTransactionReceipt", ["0x" + tx_hash.hex()])
                if raw is not None:
                    return self._mined(self._w3.eth.get_transaction_receipt(HexBytes(tx_hash)))
                if time.monotonic() >= deadline:
                    return None
                time.sleep(_POLL)

    def known(self, tx_hash: bytes) -> bool:
        """Whether the node knows the transaction at all (pending or mined): a transaction
        whose block was reorganised away and that no pool kept is known no more."""
        with _rpc("cannot look up a transaction"):
            return self._request("eth_getTransactionByHash", ["0x" + tx_hash.hex()]) is not None

    def deploy(self, signer: LocalAccount) -> Mined:
        """Deploy the shipped anchor contract from ``signer``'s account."""
        with _rpc("cannot deploy the anchor contract"):
            tx_hash = self._send(signer, {"data": HexBytes(shipped().bytecode)})
        mined = self.receipt(tx_hash, wait=self._timeout)
        if mined is None or mined.contract is None:
            raise AnchorError(f"the deployment 0x{tx_hash.hex()} was not mined in time")
        return mined

    def _contract(self, contract: bytes) -> Any:
        return self._w3.eth.contract(address=Web3.to_checksum_address(contract), abi=shipped().abi)

    def check_code(self, contract: bytes) -> None:
        """Refuse an address whose code is not the shipped anchor contract's runtime code
        (an account without code accepts any call and emits nothing).

        Raises:
            AnchorError: another code, or none.
        """
        with _rpc("cannot read the contract's code"):
            code = bytes(self._w3.eth.get_code(Web3.to_checksum_address(contract)))
        if code != shipped().runtime:
            what = "no code" if not code else f"{len(code)} bytes of other code"
            raise AnchorError(
                f"0x{contract.hex()} holds {what}, not copyseal's anchor contract"
                f" (deploy it with `copyseal anchors deploy`)"
            )

    def latest(self, contract: bytes, anchorer: bytes, origin: bytes) -> tuple[int, bytes]:
        """The contract's ``latest(anchorer, origin)``: the last size and root anchored."""
        with _rpc("cannot read the anchor contract"):
            call = self._contract(contract).functions.latest(
                Web3.to_checksum_address(anchorer), origin
            )
            size, root = call.call()
        return int(size), bytes(root)

    def send_anchor(
        self, signer: LocalAccount, contract: bytes, origin: bytes, size: int, root: bytes
    ) -> bytes:
        """Send ``anchor(origin, size, root)``; the transaction's hash.

        Raises:
            AnchorError: the node refused it (a size that does not grow is refused by the
                contract already when the gas is estimated).
        """
        with _rpc("cannot anchor"):
            data = self._contract(contract).encode_abi("anchor", args=[origin, size, root])
            to = Web3.to_checksum_address(contract)
            return self._send(signer, {"to": to, "data": data})

    def find(
        self, contract: bytes, anchorer: bytes, origin: bytes, size: int, *, from_block: int = 0
    ) -> list[tuple[bytes, bytes]]:
        """The (transaction hash, event data) of every canonical ``Anchored`` event of
        ``anchorer`` for ``origin`` at ``size`` (``eth_getLogs``), oldest first."""
        topics = ["0x" + t.hex() for t in (ANCHORED_TOPIC, bytes(12) + anchorer, origin)]
        with _rpc("cannot search the chain's logs"):
            logs = self._request(
                "eth_getLogs",
                [
                    {
                        "address": "0x" + contract.hex(),
                        "fromBlock": hex(from_block),
                        "toBlock": "latest",
                        "topics": topics,
                    }
                ],
            )
        prefix = anchored_data(size, bytes(32))[:32]
        return [
            (bytes.fromhex(log["transactionHash"][2:]), bytes.fromhex(log["data"][2:]))
            for log in logs
            if not log.get("removed") and bytes.fromhex(log["data"][2:])[:32] == prefix
        ]

    def head(self) -> int:
        """The number of the chain's newest block."""
        with _rpc("cannot read the chain's head"):
            return int(self._w3.eth.block_number)

    def canonical(self, number: int) -> tuple[bytes, int] | None:
        """The hash and timestamp of the canonical block ``number`` (None: none yet)."""
        with _rpc("cannot read a block"):
            block = self._request("eth_getBlockByNumber", [hex(number), False])
        if block is None:
            return None
        return bytes.fromhex(block["hash"][2:]), int(block["timestamp"], 16)

    def wait_for_head(self, number: int, what: str, timeout: float) -> None:
        """Wait until block ``number`` exists, for at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self.head() < number:
            if time.monotonic() >= deadline:
                raise AnchorError(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(_POLL)

    def block(self, block_hash: bytes) -> tuple[dict[str, Any], list[bytes], list[bytes]]:
        """Block ``block_hash``'s header fields, raw transactions and receipts (EIP-2718)."""
        with _rpc("cannot read a block's transactions and receipts"):
            hash_hex = "0x" + block_hash.hex()
            header = self._request("eth_getBlockByHash", [hash_hex, False])
            if header is None:
                raise AnchorError(f"the node has no block {hash_hex}")
            transactions = [
                bytes.fromhex(
                    self._request("eth_getRawTransactionByBlockHashAndIndex", [hash_hex, hex(i)])[
                        2:
                    ]
                )
                for i in range(len(header["transactions"]))
            ]
            receipts = [_receipt(raw) for raw in self._request("eth_getBlockReceipts", [hash_hex])]
        return header, transactions, receipts


def _receipt(raw: dict[str, Any]) -> bytes:
    """A JSON-RPC receipt in its consensus encoding: ``type || rlp([status, cumulativeGasUsed,
    logsBloom, logs])`` (EIP-2718; a legacy receipt is the bare RLP list)."""
    logs: list[Item] = [
        [
            bytes.fromhex(log["address"][2:]),
            [bytes.fromhex(t[2:]) for t in log["topics"]],
            bytes.fromhex(log["data"][2:]),
        ]
        for log in raw["logs"]
    ]
    body = encode(
        [
            encode_int(int(raw["status"], 16)),
            encode_int(int(raw["cumulativeGasUsed"], 16)),
            bytes.fromhex(raw["logsBloom"][2:]),
            logs,
        ]
    )
    kind = int(raw.get("type", "0x0"), 16)
    return body if kind == 0 else bytes([kind]) + body
