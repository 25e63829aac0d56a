"""The public-chain anchor on a real EVM node (anvil on loopback), and its pure parts.

The contract keeps each (anchorer, origin) append-only and lets nobody write under
another's address; anchoring waits for confirmations and survives a reorganisation; a
transaction sent but never recorded is found again; the proof verifies offline down to the
block hash, which a node then confirms; and nothing else verifies.
"""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import rlp as pyrlp
from web3 import Web3

from anvil_node import DEV_ADDRESSES, AnvilNode
from copyseal.anchors import AnchorContext, AnchorError, AnchorVerificationError, anchor_for
from copyseal.anchors.evm import EvmAnchor, _contract, _mpt, _rlp, check_online
from copyseal.anchors.evm._chain import Chain, account
from copyseal.anchors.evm._proof import ANCHORED_TOPIC, origin_hash
from copyseal.errors import VerificationError
from copyseal.ledger import Checkpoint

from .conftest import ORIGIN, SIGNER, evm_key_file

ROOT_A = bytes(range(32))
ROOT_B = bytes(range(1, 33))


def _anchor(anvil: AnvilNode, key_file: str, **options: Any) -> EvmAnchor:
    base = {"rpc_url": anvil.url, "chain_id": anvil.chain_id, "key_file": key_file}
    context = AnchorContext(vkey=SIGNER.vkey, name="chain", options={**base, **options})
    return EvmAnchor.from_context(context)


@pytest.fixture
def deployed(anvil: AnvilNode, tmp_path: Path) -> tuple[EvmAnchor, str]:
    """Account 0's anchor on a fresh contract, and that contract's address."""
    key = evm_key_file(tmp_path, 0)
    contract = _anchor(anvil, key).deploy().contract
    return _anchor(anvil, key, contract=contract), contract


def _checkpoint(size: int, root: bytes = ROOT_A) -> Checkpoint:
    return Checkpoint(origin=ORIGIN, size=size, root=root)


def _payload(record: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(record.payload)
    return doc


# -- the contract -----------------------------------------------------------------------


def test_the_shipped_bytecode_is_what_the_source_compiles_to() -> None:
    shipped = _contract.shipped()
    compiled = _contract.compile_source(_contract.source())
    assert compiled.bytecode == shipped.bytecode
    assert compiled.runtime == shipped.runtime and shipped.runtime in shipped.bytecode
    assert compiled.abi == shipped.abi
    assert (shipped.compiler, shipped.settings) == (
        f"vyper {_contract.VYPER_VERSION}",
        {"evm_version": "london", "optimize": "gas"},
    )
    event = next(item for item in shipped.abi if item.get("name") == "Anchored")
    types = ",".join(i["type"] for i in event["inputs"])
    assert _rlp.keccak256(f"Anchored({types})".encode()) == ANCHORED_TOPIC
    assert [i["indexed"] for i in event["inputs"]] == [True, True, False, False]


def test_deploy_reports_the_contract_and_its_block(anvil: AnvilNode, tmp_path: Path) -> None:
    deployment = _anchor(anvil, evm_key_file(tmp_path, 0)).deploy()
    assert Web3.is_checksum_address(deployment.contract)
    assert deployment.block_number >= 1 and len(deployment.tx_hash) == 66
    code = anvil.rpc("eth_getCode", deployment.contract, "latest")
    assert code == "0x" + _contract.shipped().runtime.hex()
    assert deployment.to_json() == {
        "chain_id": 31337,
        "contract": deployment.contract,
        "tx_hash": deployment.tx_hash,
        "block_number": deployment.block_number,
    }


# -- anchoring ---------------------------------------------------------------------------


def test_two_checkpoints_are_anchored_and_the_gas_is_reported(
    deployed: tuple[EvmAnchor, str], anvil: AnvilNode
) -> None:
    anchor, contract = deployed
    first = anchor.anchor(_checkpoint(5))
    second = anchor.anchor(_checkpoint(8, ROOT_B))
    one, two = _payload(first), _payload(second)
    assert two["block_number"] > one["block_number"]
    assert one["contract"] == contract and one["chain_id"] == anvil.chain_id
    assert one["anchorer"] == DEV_ADDRESSES[0]
    # A first anchor of an origin writes two fresh storage slots (EIP-2200: 20,000 gas
    # each); a later one overwrites them.
    assert 40_000 < one["gas_used"] < 90_000 and 21_000 < two["gas_used"] < one["gas_used"]
    print(f"gas per anchor: first {one['gas_used']}, next {two['gas_used']}")
    assert anchor.latest() == (8, ROOT_B)
    assert first.anchored_at is not None and first.anchored_at.utcoffset() is not None
    receipt = anvil.rpc("eth_getTransactionReceipt", two["tx_hash"])
    assert int(receipt["gasUsed"], 16) == two["gas_used"]
    assert int(receipt["logs"][0]["logIndex"], 16) == two["log_index"]
    # Anchoring the same checkpoint again finds it: no second transaction.
    assert anchor.anchor(_checkpoint(8, ROOT_B)) == second


def _receipt(anvil: AnvilNode, tx_hash: str) -> dict[str, Any]:
    """The transaction's receipt, once there: anvil's automine answers
    ``eth_sendTransaction`` before the block is stored, so the receipt can be ``null`` for
    a moment (foundry-rs/foundry#3537, #10944)."""
    deadline = time.monotonic() + 10.0
    while (receipt := anvil.rpc("eth_getTransactionReceipt", tx_hash)) is None:
        assert time.monotonic() < deadline, f"no receipt for {tx_hash} after 10 s"
        time.sleep(0.02)
    return dict(receipt)


def test_the_chain_refuses_a_size_that_does_not_grow(
    deployed: tuple[EvmAnchor, str], anvil: AnvilNode
) -> None:
    anchor, contract = deployed
    anchor.anchor(_checkpoint(8))
    with pytest.raises(AnchorError, match=r"holds size 8 .* size 5 does not grow it"):
        anchor.anchor(_checkpoint(5))
    # Past copyseal's own check, the contract itself refuses: equal and smaller sizes.
    chain = Chain(rpc_url=anvil.url, chain_id=anvil.chain_id)
    signer = account(_dev_key(0))
    address = bytes.fromhex(contract[2:])
    for size in (8, 7, 0):
        with pytest.raises(AnchorError, match=r"contract refused: .*size does not grow"):
            chain.send_anchor(signer, address, origin_hash(ORIGIN), size, ROOT_B)
    # Sent anyway with a fixed gas limit, the transaction reverts on the chain.
    tx = {
        "from": DEV_ADDRESSES[0],
        "to": contract,
        "gas": hex(100_000),
        "data": _call_data(contract, origin_hash(ORIGIN), 8, ROOT_B),
    }
    tx_hash = anvil.rpc("eth_sendTransaction", tx)
    assert _receipt(anvil, tx_hash)["status"] == "0x0"
    assert anchor.latest() == (8, ROOT_A)


def test_a_root_rewritten_at_an_anchored_size_is_named(deployed: tuple[EvmAnchor, str]) -> None:
    anchor, _contract_address = deployed
    anchor.anchor(_checkpoint(8, ROOT_A))
    with pytest.raises(AnchorError, match=r"another root for size 8 .* the log was rewritten"):
        anchor.anchor(_checkpoint(8, ROOT_B))


def test_nobody_writes_into_anothers_origin(
    deployed: tuple[EvmAnchor, str], anvil: AnvilNode, tmp_path: Path
) -> None:
    ours, contract = deployed
    record = ours.anchor(_checkpoint(8))
    other = _anchor(anvil, evm_key_file(tmp_path, 1), contract=contract)
    theirs = other.anchor(_checkpoint(3, ROOT_B))  # smaller than ours: their own slot
    assert _payload(theirs)["anchorer"] == DEV_ADDRESSES[1]
    assert ours.latest() == (8, ROOT_A) and other.latest() == (3, ROOT_B)
    # Their proof does not verify as ours (the anchorer is pinned), and ours stands.
    proof = other.prove(theirs)
    assert other.verify(proof, _checkpoint(3, ROOT_B)).size == 3
    with pytest.raises(AnchorVerificationError, match="another anchorer than configured"):
        ours.verify(proof, _checkpoint(3, ROOT_B))
    assert ours.verify(ours.prove(record), _checkpoint(8)).size == 8
    # The event's indexed anchorer is the sender: there is no argument to claim another.
    log = anvil.rpc("eth_getTransactionReceipt", _payload(theirs)["tx_hash"])["logs"][0]
    assert log["topics"][1] == "0x" + bytes(12).hex() + DEV_ADDRESSES[1][2:].lower()
    assert log["topics"][2] == "0x" + origin_hash(ORIGIN).hex()


def test_a_transaction_sent_but_not_recorded_is_found_again(
    deployed: tuple[EvmAnchor, str], anvil: AnvilNode
) -> None:
    anchor, contract = deployed
    checkpoint = _checkpoint(8)
    assert anchor.find(checkpoint) is None
    # copyseal sent the transaction, then was killed before it recorded anything.
    chain = Chain(rpc_url=anvil.url, chain_id=anvil.chain_id)
    sent = chain.send_anchor(
        account(_dev_key(0)), bytes.fromhex(contract[2:]), origin_hash(ORIGIN), 8, ROOT_A
    )
    nonce = anvil.rpc("eth_getTransactionCount", DEV_ADDRESSES[0], "latest")
    found = anchor.find(checkpoint)
    assert found is not None and _payload(found)["tx_hash"] == "0x" + sent.hex()
    assert anchor.anchor(checkpoint) == found  # not sent again
    assert anvil.rpc("eth_getTransactionCount", DEV_ADDRESSES[0], "latest") == nonce
    assert anchor.verify(anchor.prove(found), checkpoint).size == 8


def test_anchoring_waits_for_confirmations(
    deployed: tuple[EvmAnchor, str], anvil: AnvilNode, tmp_path: Path
) -> None:
    _anchor_0, contract = deployed
    waiting = _anchor(anvil, evm_key_file(tmp_path, 0), contract=contract, confirmations=3)
    with _miner(anvil):
        record = waiting.anchor(_checkpoint(8))
    number = _payload(record)["block_number"]
    assert int(anvil.rpc("eth_blockNumber"), 16) >= number + 3
    assert "is canonical on chain 31337" in check_online(record, anvil.url, 3)


def test_a_block_reorganised_away_means_anchoring_again(
    deployed: tuple[EvmAnchor, str], anvil: AnvilNode
) -> None:
    anchor, _contract_address = deployed
    snapshot = anvil.rpc("evm_snapshot")
    record = anchor.anchor(_checkpoint(8))
    proof = anchor.prove(record)
    anvil.rpc("evm_revert", snapshot)  # the anchor's block is gone
    anvil.mine(3)
    with pytest.raises(AnchorVerificationError, match="not in chain 31337's canonical chain"):
        check_online(record, anvil.url)
    with pytest.raises(AnchorVerificationError, match="not in chain 31337's canonical chain"):
        check_online(proof, anvil.url)
    with pytest.raises(AnchorError, match="reorganised away: anchor the checkpoint again"):
        anchor.prove(record)
    assert anchor.verify(proof, _checkpoint(8)).size == 8  # offline, the proof still holds
    again = anchor.anchor(_checkpoint(8))
    assert _payload(again)["block_hash"] != _payload(record)["block_hash"]
    assert "canonical" in check_online(anchor.prove(again), anvil.url)


def test_a_reorganisation_while_waiting_is_anchored_again(
    deployed: tuple[EvmAnchor, str], anvil: AnvilNode, tmp_path: Path
) -> None:
    _anchor_0, contract = deployed
    waiting = _anchor(anvil, evm_key_file(tmp_path, 0), contract=contract, confirmations=2)
    snapshot = anvil.rpc("evm_snapshot")
    start = int(anvil.rpc("eth_blockNumber"), 16)
    stop = threading.Event()

    def reorganise() -> None:
        while int(anvil.rpc("eth_blockNumber"), 16) == start and not stop.is_set():
            stop.wait(0.02)  # until the anchor's transaction is mined
        anvil.rpc("evm_revert", snapshot)
        while not stop.wait(0.1):
            anvil.mine()

    thread = threading.Thread(target=reorganise)
    thread.start()
    try:
        record = waiting.anchor(_checkpoint(8))
    finally:
        stop.set()
        thread.join(timeout=10)
    assert "canonical" in check_online(record, anvil.url, 2)
    assert waiting.latest() == (8, ROOT_A)


def test_a_transaction_the_node_dropped_is_sent_again(
    deployed: tuple[EvmAnchor, str], anvil: AnvilNode
) -> None:
    """A pending anchor transaction that the node forgets (a reorganisation that no pool
    kept it through) is sent again rather than waited for until the timeout."""
    anchor, _contract = deployed
    me = DEV_ADDRESSES[0]
    before = int(anvil.rpc("eth_getTransactionCount", me, "latest"), 16)
    anvil.rpc("evm_setAutomine", False)
    stop = threading.Event()
    dropped: list[int] = []

    def drop_once_then_mine() -> None:
        while not stop.is_set():
            pending = int(anvil.rpc("eth_getTransactionCount", me, "pending"), 16)
            if pending > before and not dropped:
                anvil.rpc("anvil_dropAllTransactions")
                dropped.append(pending)
                anvil.rpc("evm_setAutomine", True)
            elif dropped:
                anvil.mine()
            stop.wait(0.05)

    thread = threading.Thread(target=drop_once_then_mine)
    thread.start()
    try:
        record = anchor.anchor(_checkpoint(8))
    finally:
        stop.set()
        thread.join(timeout=10)
        anvil.rpc("evm_setAutomine", True)
    assert dropped, "the anchor's first transaction was never seen pending"
    assert anchor.latest() == (8, ROOT_A)
    # One transaction mined in all: the dropped one never was, the second one reused its nonce.
    assert int(anvil.rpc("eth_getTransactionCount", me, "latest"), 16) == before + 1
    assert _payload(record)["tx_hash"]


def test_many_transactions_in_the_anchors_block(
    deployed: tuple[EvmAnchor, str], anvil: AnvilNode
) -> None:
    """Transaction index 130 (key ``rlp(130)`` = 0x8182) in a block of 131: deep tries."""
    anchor, _contract_address = deployed
    anvil.rpc("evm_setAutomine", False)
    try:
        for _ in range(130):
            transfer = {
                "from": DEV_ADDRESSES[2],
                "to": DEV_ADDRESSES[1],
                "value": "0x1",
                # A higher tip than the anchor's: anvil orders a block's transactions by tip.
                "maxPriorityFeePerGas": hex(50 * 10**9),
                "maxFeePerGas": hex(100 * 10**9),
            }
            anvil.rpc("eth_sendTransaction", transfer)
        stop = threading.Event()

        def mine_when_sent() -> None:
            while not stop.wait(0.05):
                if int(anvil.rpc("txpool_status")["pending"], 16) >= 131:
                    anvil.mine()
                    return

        thread = threading.Thread(target=mine_when_sent)
        thread.start()
        try:
            record = anchor.anchor(_checkpoint(8))
        finally:
            stop.set()
            thread.join(timeout=10)
    finally:
        anvil.rpc("evm_setAutomine", True)
    payload = _payload(record)
    assert payload["transaction_index"] == 130
    proof = anchor.prove(record)
    assert anchor.verify(proof, _checkpoint(8)).block == payload["block_number"]
    assert len(json.loads(proof)["receipt_proof"]) >= 2


# -- the proof ---------------------------------------------------------------------------


def test_the_proof_verifies_offline_and_the_node_confirms(
    deployed: tuple[EvmAnchor, str], anvil: AnvilNode
) -> None:
    anchor, contract = deployed
    record = anchor.anchor(_checkpoint(8))
    proof = anchor.prove(record)
    payload = _payload(record)
    verifier = anchor_for(
        "evm",
        AnchorContext(
            vkey=SIGNER.vkey,
            name="chain",
            options={"chain_id": 31337, "contract": contract, "anchorer": DEV_ADDRESSES[0]},
        ),
    )
    proven = verifier.verify(proof, _checkpoint(8))
    block = anvil.rpc("eth_getBlockByNumber", hex(payload["block_number"]), False)
    assert proven.block == payload["block_number"]
    assert proven.time is not None and int(proven.time.timestamp()) == int(block["timestamp"], 16)
    at = proven.time.isoformat()
    assert proven.detail.startswith(
        f"in block {proven.block} (hash {block['hash']}) of chain 31337 at {at}"
    )
    doc = json.loads(proof)
    assert doc["block_hash"] == block["hash"] == payload["block_hash"]
    assert doc["tx_hash"] == payload["tx_hash"]
    assert doc["header"]["receiptsRoot"] == block["receiptsRoot"]
    anvil.mine(2)
    assert check_online(proof, anvil.url, 2).endswith("with 2 confirmations")
    with pytest.raises(AnchorVerificationError, match="fewer than 50"):
        check_online(proof, anvil.url, 50)
    for pin, value in (("chain_id", 1), ("contract", DEV_ADDRESSES[2])):
        elsewhere = AnchorContext(vkey=SIGNER.vkey, name="chain", options={pin: value})
        with pytest.raises(AnchorVerificationError, match=r"another .* than configured"):
            anchor_for("evm", elsewhere).verify(proof, _checkpoint(8))


def test_flipped_bits_anywhere_in_the_proof_are_rejected(
    deployed: tuple[EvmAnchor, str],
) -> None:
    anchor, _contract_address = deployed
    proof = anchor.prove(anchor.anchor(_checkpoint(8)))
    rng = random.Random(12)
    positions = rng.sample(range(len(proof)), 400)
    for i in positions:
        for mask in (0x01, 0x02, 0x20, 0x80):
            changed = bytearray(proof)
            changed[i] ^= mask
            with pytest.raises(VerificationError):
                anchor.verify(bytes(changed), _checkpoint(8))
                pytest.fail(f"byte {i} ^ {mask:#x} still verified")


def test_a_proof_for_another_checkpoint_is_rejected(deployed: tuple[EvmAnchor, str]) -> None:
    anchor, _contract_address = deployed
    proof = anchor.prove(anchor.anchor(_checkpoint(8)))
    for other in (_checkpoint(9), _checkpoint(8, ROOT_B), _checkpoint(5)):
        with pytest.raises(AnchorVerificationError, match="it anchors"):
            anchor.verify(proof, other)
    # Restating the checkpoint in the proof does not help: the event says otherwise.
    doc = json.loads(proof)
    doc["checkpoint"]["size"] = 9
    with pytest.raises(AnchorVerificationError, match="no Anchored event of this checkpoint"):
        anchor.verify(json.dumps(doc).encode(), _checkpoint(9))


def test_the_key_file_must_be_private_and_its_key_is_never_shown(
    anvil: AnvilNode, tmp_path: Path
) -> None:
    key_file = Path(evm_key_file(tmp_path, 0))
    key_file.chmod(0o640)
    with pytest.raises(AnchorError, match=r"may be read by group or others .* chmod 600") as info:
        _anchor(anvil, str(key_file))
    assert _dev_key(0)[2:] not in str(info.value)
    key_file.chmod(0o600)
    key_file.write_text(_dev_key(0)[:-2] + "zz\n", encoding="ascii")
    with pytest.raises(AnchorError, match="does not hold a hex private key") as info:
        _anchor(anvil, str(key_file))
    assert _dev_key(0)[2:20] not in str(info.value) and info.value.__cause__ is None


def test_the_node_must_serve_the_configured_chain(anvil: AnvilNode, tmp_path: Path) -> None:
    anchor = _anchor(anvil, evm_key_file(tmp_path, 0), chain_id=1)
    with pytest.raises(AnchorError, match="serves chain 31337, not 1"):
        anchor.deploy()
    down = _anchor(anvil, evm_key_file(tmp_path, 0), rpc_url="http://127.0.0.1:9")
    with pytest.raises(AnchorError, match="cannot reach the EVM node"):
        down.deploy()
    unconfigured = _anchor(anvil, evm_key_file(tmp_path, 0))
    with pytest.raises(AnchorError, match="has no contract: deploy it first"):
        unconfigured.anchor(_checkpoint(8))
    # An address without the contract's code would take any call and emit nothing.
    for address in (DEV_ADDRESSES[2], "0x" + "42" * 20):
        elsewhere = _anchor(anvil, evm_key_file(tmp_path, 0), contract=address)
        with pytest.raises(AnchorError, match=r"holds .*code.*, not copyseal's anchor contract"):
            elsewhere.anchor(_checkpoint(8))


# -- RLP and tries, against outside implementations --------------------------------------


@pytest.mark.parametrize(
    "item",
    [b"", b"\x00", b"\x7f", b"\x80", b"a" * 55, b"a" * 56, b"b" * 1024, [], [b"", [b"x" * 60, []]]],
)
def test_rlp_matches_the_reference_implementation(item: Any) -> None:
    encoded = _rlp.encode(item)
    assert encoded == pyrlp.encode(item)
    assert _rlp.decode(encoded) == item


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x81\x05", "single byte below 0x80"),
        (b"\xb8\x05hello", "fits the short form"),
        (b"\x83ab", "truncated"),
        (b"\x80\x80", "bytes after the item"),
        (b"\xb9\x00\x38" + b"a" * 56, "non-canonical length"),
    ],
)
def test_non_canonical_rlp_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(AnchorVerificationError, match=message):
        _rlp.decode(data)


def test_the_trie_root_of_one_value_is_the_known_one() -> None:
    """Keccak of the one leaf ``[hex-prefix(key, leaf), value]``, written out by hand."""
    leaf = pyrlp.encode([bytes([0x20]) + _mpt.index_key(0), b"v"])
    assert _mpt.build([b"v"]).root == _rlp.keccak256(leaf)
    trie = _mpt.build([bytes([i]) * 40 for i in range(20)])
    for i in range(20):
        assert _mpt.verify(trie.root, _mpt.index_key(i), trie.proof(_mpt.index_key(i))) == (
            bytes([i]) * 40
        )
    with pytest.raises(AnchorVerificationError, match="does not match its hash"):
        _mpt.verify(trie.root, _mpt.index_key(19), trie.proof(_mpt.index_key(2)))
    one = _mpt.build([b"v"])
    with pytest.raises(AnchorVerificationError, match="no value for the key"):
        _mpt.verify(one.root, _mpt.index_key(1), one.proof(_mpt.index_key(0)))


# -- helpers -----------------------------------------------------------------------------


def _dev_key(index: int) -> str:
    from anvil_node import DEV_KEYS

    return DEV_KEYS[index]


def _call_data(contract: str, origin: bytes, size: int, root: bytes) -> str:
    w3 = Web3()
    instance = w3.eth.contract(
        address=Web3.to_checksum_address(contract), abi=_contract.shipped().abi
    )
    return str(instance.encode_abi("anchor", args=[origin, size, root]))


class _miner:
    """Mines a block every 0.1 s in a thread while in the ``with`` block."""

    def __init__(self, anvil: AnvilNode) -> None:
        self._anvil = anvil
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self._anvil.mine()

    def __enter__(self) -> None:
        self._thread.start()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
