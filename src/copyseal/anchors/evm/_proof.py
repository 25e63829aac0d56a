"""The EVM anchor's proof: a block header, and the transaction and its receipt in that block.

The proof is one JSON object (UTF-8, :data:`FORMAT`) that stands alone:

- ``checkpoint`` (origin, size, root in base64) and who anchored it where: ``chain_id``,
  ``contract``, ``anchorer``, ``tx_hash``, ``transaction_index``, ``block_number``,
  ``block_hash``, ``block_time``;
- ``header``: the block header's fields by their JSON-RPC names, in header order
  (quantities as ``0x`` hex numbers, the rest as ``0x`` hex bytes); the block hash is
  Keccak-256 of their RLP list (Yellow Paper §4.3; later forks append fields);
- ``transaction`` and ``transaction_proof``: the signed transaction (EIP-2718 encoding,
  whose Keccak-256 is ``tx_hash``) and the Merkle-Patricia proof of it under
  ``rlp(transaction_index)`` in the header's ``transactionsRoot``; it states ``chain_id``;
- ``receipt`` and ``receipt_proof``: the receipt (``type || rlp([status, cumulativeGas,
  logsBloom, logs])``, EIP-2718) and its proof in ``receiptsRoot``; its logs hold the
  contract's ``Anchored(anchorer, keccak256(origin), size, root)`` event.

:func:`check` verifies every one of those bytes offline; whether the block hash is a block
of the chain is then for a node or block explorer one trusts to say.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from copyseal import _json
from copyseal.anchors.evm import _mpt
from copyseal.anchors.evm._contract import ANCHORED_TOPIC
from copyseal.anchors.evm._rlp import Item, decode, decode_int, encode, encode_int, keccak256
from copyseal.errors import AnchorVerificationError, LedgerError
from copyseal.ledger.checkpoint import Checkpoint
from copyseal.times import iso

__all__ = ["FORMAT", "HEADER_FIELDS", "Anchored", "anchored_data", "check", "make", "origin_hash"]

FORMAT = "copyseal-evm-anchor-proof/v1"

#: Header fields in RLP order, with how each is encoded: ``int`` (an RLP scalar) or the
#: byte length of a fixed-size field (0: any length). Forks append fields (London
#: ``baseFeePerGas``, Shanghai ``withdrawalsRoot``, Cancun the blob and beacon fields,
#: Prague ``requestsHash``); a header holds a prefix of at least the first fifteen.
HEADER_FIELDS: tuple[tuple[str, str | int], ...] = (
    ("parentHash", 32),
    ("sha3Uncles", 32),
    ("miner", 20),
    ("stateRoot", 32),
    ("transactionsRoot", 32),
    ("receiptsRoot", 32),
    ("logsBloom", 256),
    ("difficulty", "int"),
    ("number", "int"),
    ("gasLimit", "int"),
    ("gasUsed", "int"),
    ("timestamp", "int"),
    ("extraData", 0),
    ("mixHash", 32),
    ("nonce", 8),
    ("baseFeePerGas", "int"),
    ("withdrawalsRoot", 32),
    ("blobGasUsed", "int"),
    ("excessBlobGas", "int"),
    ("parentBeaconBlockRoot", 32),
    ("requestsHash", 32),
)
_PRE_LONDON = 15
_KEYS = (
    "format",
    "checkpoint",
    "chain_id",
    "contract",
    "anchorer",
    "tx_hash",
    "transaction_index",
    "block_number",
    "block_hash",
    "block_time",
    "header",
    "transaction",
    "transaction_proof",
    "receipt",
    "receipt_proof",
)
_HEX = re.compile(r"0x(?:[0-9a-f]{2})*")
_QUANTITY = re.compile(r"0x(?:0|[1-9a-f][0-9a-f]*)")
_MAX_PROOF = 1 << 20  # a block's header and two proofs are a few kilobytes
_TX_TYPES = (1, 2, 3, 4)  # EIP-2930, EIP-1559, EIP-4844, EIP-7702: chainId first


def origin_hash(origin: str) -> bytes:
    """The contract's ``origin``: Keccak-256 of the log's origin string (UTF-8)."""
    return keccak256(origin.encode("utf-8"))


def anchored_data(size: int, root: bytes) -> bytes:
    """The ``Anchored`` event's data: the ABI encoding of ``(uint64 size, bytes32 root)``."""
    return size.to_bytes(32, "big") + root


@dataclass(frozen=True, kw_only=True)
class Anchored:
    """What a verified proof shows: the checkpoint anchored by ``anchorer`` in ``contract``
    on chain ``chain_id``, in block ``block_number`` (``block_hash``) at ``block_time``."""

    checkpoint: Checkpoint
    chain_id: int
    contract: bytes
    anchorer: bytes
    tx_hash: bytes
    block_number: int
    block_hash: bytes
    block_time: datetime

    def describe(self) -> str:
        """One line for people: where and when the checkpoint was anchored, by whom."""
        return (
            f"in block {self.block_number} (hash 0x{self.block_hash.hex()}) of chain"
            f" {self.chain_id} at {iso(self.block_time)}, by 0x{self.anchorer.hex()}"
            f" in contract 0x{self.contract.hex()}"
        )


def _fail(message: str) -> AnchorVerificationError:
    return AnchorVerificationError(f"EVM anchor proof: {message}")


def _strict_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise _fail(f"key {key!r} twice")
        doc[key] = value
    return doc


def _hex(value: object, what: str, size: int = 0) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise _fail(f"{what} is not lower-case 0x hex bytes")
    data = bytes.fromhex(value[2:])
    if size and len(data) != size:
        raise _fail(f"{what} is not {size} bytes")
    return data


def _quantity(value: object, what: str) -> int:
    if not isinstance(value, str) or not _QUANTITY.fullmatch(value):
        raise _fail(f"{what} is not a 0x hex quantity")
    return int(value[2:], 16)


def _int(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _fail(f"{what} is not a non-negative integer")
    return value


def _header(doc: object) -> tuple[list[Item], dict[str, Any]]:
    """The header's RLP list, and its fields decoded by name."""
    if not isinstance(doc, dict):
        raise _fail("header is not an object")
    names = [name for name, _ in HEADER_FIELDS]
    if list(doc) != names[: len(doc)] or len(doc) < _PRE_LONDON:
        raise _fail(f"header fields are not {', '.join(names[:_PRE_LONDON])}, … in order")
    items: list[Item] = []
    fields: dict[str, Any] = {}
    for name, kind in HEADER_FIELDS[: len(doc)]:
        if kind == "int":
            fields[name] = _quantity(doc[name], f"header {name}")
            items.append(encode_int(fields[name]))
        else:
            assert isinstance(kind, int)
            fields[name] = _hex(doc[name], f"header {name}", kind)
            items.append(fields[name])
    return items, fields


def _transaction(raw: bytes) -> tuple[int, int | None, bytes]:
    """A signed transaction's type, chain id (None: a legacy one without) and recipient."""
    if raw[:1] and raw[0] >= 0xC0:
        fields = decode(raw)
        if not isinstance(fields, list) or len(fields) != 9:
            raise _fail("the transaction is not a legacy transaction")
        v = decode_int(_bytes(fields[6]))
        return 0, (v - 35) // 2 if v >= 35 else None, _bytes(fields[3])
    if not raw or raw[0] not in _TX_TYPES:
        raise _fail("the transaction is of an unknown type")
    fields = decode(raw[1:])
    if not isinstance(fields, list) or len(fields) < 8:
        raise _fail("the transaction's fields are malformed")
    to = fields[4] if raw[0] == 1 else fields[5]
    return raw[0], decode_int(_bytes(fields[0])), _bytes(to)


def _bytes(item: Item) -> bytes:
    if not isinstance(item, bytes):
        raise _fail("a list where bytes belong")
    return item


def _logs(receipt: bytes, tx_type: int) -> list[Item]:
    """The logs of a successful receipt of a transaction of ``tx_type``."""
    kind, body = (0, receipt) if receipt[:1] and receipt[0] >= 0xC0 else (receipt[0], receipt[1:])
    if kind != tx_type:
        raise _fail("the receipt's type is not the transaction's")
    fields = decode(body)
    if not isinstance(fields, list) or len(fields) != 4 or not isinstance(fields[3], list):
        raise _fail("the receipt is malformed")
    if fields[0] != b"\x01":
        raise _fail("the transaction failed (receipt status is not 1)")
    return fields[3]


def _has_event(logs: Sequence[Item], contract: bytes, topics: list[Item], data: bytes) -> bool:
    return any(log == [contract, topics, data] for log in logs)


def check(proof: bytes, checkpoint: Checkpoint) -> Anchored:
    """Verify ``proof`` offline: it shows ``checkpoint`` anchored in the block it names.

    Raises:
        AnchorVerificationError: anything at all is wrong.
    """
    try:
        return _check(proof, checkpoint)
    except (ValueError, IndexError, TypeError) as e:  # a decoder's slip is still a refusal
        raise _fail(f"malformed ({e})") from e


def _check(proof: bytes, checkpoint: Checkpoint) -> Anchored:
    if len(proof) > _MAX_PROOF:
        raise _fail("too large")
    try:
        doc = _json.loads(proof.decode("utf-8"), object_pairs_hook=_strict_object)
    except (UnicodeDecodeError, ValueError) as e:
        raise _fail(f"not JSON ({e})") from e
    if not isinstance(doc, dict) or tuple(doc) != _KEYS:
        raise _fail(f"not an object with the keys {', '.join(_KEYS)}")
    if doc["format"] != FORMAT:
        raise _fail(f"format is not {FORMAT}")
    stated = _checkpoint(doc["checkpoint"])
    if stated != checkpoint:
        raise _fail(
            f"it anchors {stated.origin} size {stated.size}, not {checkpoint.origin}"
            f" size {checkpoint.size} with that root"
        )
    items, header = _header(doc["header"])
    block_hash = _hex(doc["block_hash"], "block_hash", 32)
    if keccak256(encode(items)) != block_hash:
        raise _fail("the header does not hash to block_hash")
    if _int(doc["block_number"], "block_number") != header["number"]:
        raise _fail("block_number is not the header's")
    block_time = datetime.fromtimestamp(header["timestamp"], UTC)
    if doc["block_time"] != iso(block_time):
        raise _fail("block_time is not the header's timestamp")
    key = _mpt.index_key(_int(doc["transaction_index"], "transaction_index"))
    transaction = _hex(doc["transaction"], "transaction")
    tx_proof = _nodes(doc["transaction_proof"], "transaction_proof")
    if _mpt.verify(header["transactionsRoot"], key, tx_proof) != transaction:
        raise _fail("the transaction is not the one in the block")
    tx_hash = _hex(doc["tx_hash"], "tx_hash", 32)
    if keccak256(transaction) != tx_hash:
        raise _fail("tx_hash is not the transaction's hash")
    tx_type, chain_id, to = _transaction(transaction)
    if chain_id != _int(doc["chain_id"], "chain_id"):
        raise _fail("chain_id is not the one the transaction was signed for")
    contract = _hex(doc["contract"], "contract", 20)
    if to != contract:
        raise _fail("the transaction was not sent to the contract")
    receipt = _hex(doc["receipt"], "receipt")
    receipt_proof = _nodes(doc["receipt_proof"], "receipt_proof")
    if _mpt.verify(header["receiptsRoot"], key, receipt_proof) != receipt:
        raise _fail("the receipt is not the one in the block")
    anchorer = _hex(doc["anchorer"], "anchorer", 20)
    topics: list[Item] = [ANCHORED_TOPIC, bytes(12) + anchorer, origin_hash(checkpoint.origin)]
    data = anchored_data(checkpoint.size, checkpoint.root)
    if not _has_event(_logs(receipt, tx_type), contract, topics, data):
        raise _fail("the receipt holds no Anchored event of this checkpoint by the anchorer")
    return Anchored(
        checkpoint=checkpoint,
        chain_id=chain_id,
        contract=contract,
        anchorer=anchorer,
        tx_hash=tx_hash,
        block_number=header["number"],
        block_hash=block_hash,
        block_time=block_time,
    )


def _checkpoint(doc: object) -> Checkpoint:
    if not isinstance(doc, dict) or list(doc) != ["origin", "size", "root"]:
        raise _fail("checkpoint is not an object of origin, size, root")
    origin, size = doc["origin"], _int(doc["size"], "checkpoint size")
    if not isinstance(origin, str) or not isinstance(doc["root"], str):
        raise _fail("checkpoint origin or root is not a string")
    try:
        root = base64.b64decode(doc["root"], validate=True)
        if base64.b64encode(root).decode("ascii") != doc["root"]:
            raise ValueError("not canonical")
        return Checkpoint(origin=origin, size=size, root=root)
    except (binascii.Error, ValueError, LedgerError) as e:
        raise _fail(f"malformed checkpoint ({e})") from e


def _nodes(value: object, what: str) -> list[bytes]:
    if not isinstance(value, list) or not value:
        raise _fail(f"{what} is not a list of nodes")
    return [_hex(node, what) for node in value]


def make(
    *,
    checkpoint: Checkpoint,
    chain_id: int,
    contract: bytes,
    anchorer: bytes,
    transaction_index: int,
    header: Mapping[str, Any],
    transactions: Sequence[bytes],
    receipts: Sequence[bytes],
) -> bytes:
    """The proof of the Anchored event in the ``transaction_index``-th receipt of the block
    whose ``header`` (JSON-RPC fields) and ``transactions`` and ``receipts`` (EIP-2718
    encodings, in block order) are given.

    Raises:
        ValueError: the transactions or receipts are not the header's, or the header's
            fields do not hash to its ``hash`` (a field this module does not know).
    """
    fields: dict[str, str] = {}
    for name, kind in HEADER_FIELDS:
        if name not in header or header[name] is None:
            break
        value = header[name]
        if kind == "int":
            fields[name] = hex(value if isinstance(value, int) else int(value, 16))
        else:
            fields[name] = "0x" + (value if isinstance(value, bytes) else _hex(value, name)).hex()
    tx_trie, receipt_trie = _mpt.build(transactions), _mpt.build(receipts)
    items, decoded = _header(fields)
    if (tx_trie.root, receipt_trie.root) != (decoded["transactionsRoot"], decoded["receiptsRoot"]):
        raise ValueError("the block's transactions or receipts do not give the header's roots")
    block_hash = keccak256(encode(items))
    if "hash" in header and _hex(header["hash"], "hash", 32) != block_hash:
        raise ValueError("the header's fields do not hash to the block's hash")
    key = _mpt.index_key(transaction_index)
    doc = {
        "format": FORMAT,
        "checkpoint": {
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "root": base64.b64encode(checkpoint.root).decode("ascii"),
        },
        "chain_id": chain_id,
        "contract": "0x" + contract.hex(),
        "anchorer": "0x" + anchorer.hex(),
        "tx_hash": "0x" + keccak256(transactions[transaction_index]).hex(),
        "transaction_index": transaction_index,
        "block_number": decoded["number"],
        "block_hash": "0x" + block_hash.hex(),
        "block_time": iso(datetime.fromtimestamp(decoded["timestamp"], UTC)),
        "header": fields,
        "transaction": "0x" + transactions[transaction_index].hex(),
        "transaction_proof": ["0x" + node.hex() for node in tx_trie.proof(key)],
        "receipt": "0x" + receipts[transaction_index].hex(),
        "receipt_proof": ["0x" + node.hex() for node in receipt_trie.proof(key)],
    }
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
