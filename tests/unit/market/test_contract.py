"""The market contract on a real EVM node (anvil): the author is paid in the buy's own
transaction, the contract keeps nothing, a wrong amount or a withdrawn offer reverts, and
neither a re-entering nor a refusing author can take or block anyone else's sale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from copyseal.anchors.evm import compile_source
from copyseal.loopback.anvil import DEV_ADDRESSES, AnvilNode
from copyseal.market import MarketChain, MarketError, _contract, read_key

from .conftest import key_file

WORK = bytes(range(32))
TERMS = bytes(range(1, 33))
PRICE = 10**15
CLAIM = bytes([7]) * 32

#: A test-only author contract: mode 0 accepts payment, 1 re-enters ``buy`` from its
#: default function and ignores the failure, 2 re-enters and reverts when that fails,
#: 3 refuses every payment.
AUTHOR = """# pragma version 0.4.3
interface Market:
    def offer(
        work: bytes32, price_wei: uint256, duration_s: uint64, terms_hash: bytes32
    ) -> uint256: nonpayable

market: public(Market)
mode: public(uint256)
offer_id: public(uint256)
attempts: public(uint256)
reentered: public(bool)


@deploy
def __init__(market: address, mode: uint256):
    self.market = Market(market)
    self.mode = mode


@external
def list(work: bytes32, price: uint256) -> uint256:
    self.offer_id = extcall self.market.offer(work, price, 3600, empty(bytes32))
    return self.offer_id


@external
@payable
def __default__():
    assert self.mode != 3, "no payments"
    if self.mode == 1 or self.mode == 2:
        self.attempts += 1
        ok: bool = raw_call(
            self.market.address,
            abi_encode(self.offer_id, empty(bytes32), method_id=method_id("buy(uint256,bytes32)")),
            value=msg.value,
            revert_on_failure=False,
        )
        self.reentered = ok
        if self.mode == 2:
            assert ok, "re-entry failed"
"""


def test_the_shipped_bytecode_is_what_the_source_compiles_to() -> None:
    shipped = _contract.shipped()
    compiled = compile_source(_contract.source())
    assert compiled.bytecode == shipped.bytecode
    assert compiled.runtime == shipped.runtime and shipped.runtime in shipped.bytecode
    assert compiled.abi == shipped.abi
    assert (shipped.compiler, shipped.settings) == (
        "vyper 0.4.3",
        {"evm_version": "london", "optimize": "gas"},
    )
    for signature in (_contract.LICENCE_SOLD, _contract.OFFER_MADE, _contract.OFFER_WITHDRAWN):
        name = signature.split("(")[0]
        event = next(i for i in shipped.abi if i.get("type") == "event" and i["name"] == name)
        assert f"{name}({','.join(i['type'] for i in event['inputs'])})" == signature
    sold = next(i for i in shipped.abi if i.get("name") == "LicenceSold")
    assert [i["indexed"] for i in sold["inputs"]] == [True, True, False, False, False, False]


def _balance(anvil: AnvilNode, address: str, block: int | str = "latest") -> int:
    tag = block if isinstance(block, str) else hex(block)
    return int(anvil.rpc("eth_getBalance", address, tag), 16)


def _offer(chain: MarketChain, market: str, signer: Any, price: int = PRICE) -> int:
    sent = chain.call(signer, market, "offer", WORK, price, 86_400, TERMS)
    return chain.offer_made(market, sent)


def test_the_author_is_paid_exactly_the_price_in_the_buys_block(
    anvil: AnvilNode, chain: MarketChain, market: str, tmp_path: Path
) -> None:
    author, buyer = read_key(key_file(tmp_path, 0)), read_key(key_file(tmp_path, 1))
    first, second = _offer(chain, market, author), _offer(chain, market, author, PRICE * 2)
    assert (first, second) == (1, 2)  # ids increase
    buyer_before = _balance(anvil, buyer.address)
    sent = chain.call(buyer, market, "buy", second, CLAIM, value=PRICE * 2)
    block = sent.block_number
    assert (
        _balance(anvil, author.address, block) - _balance(anvil, author.address, block - 1)
        == PRICE * 2
    )
    assert _balance(anvil, market) == 0
    spent = buyer_before - _balance(anvil, buyer.address, block)
    assert spent == PRICE * 2 + sent.gas_used * sent.effective_gas_price
    [sale] = chain.sales(market, from_block=0)
    header = anvil.rpc("eth_getBlockByNumber", hex(block), False)
    assert (sale.offer_id, sale.work_sha256, sale.licensee, sale.price_wei) == (
        2,
        WORK.hex(),
        CLAIM,
        PRICE * 2,
    )
    assert sale.buyer == buyer.address and sale.tx_hash == sent.tx_hash
    assert sale.valid_until == int(header["timestamp"], 16) + 86_400 == sale.block_time + 86_400
    listed = chain.offers(market)
    assert [o["offer_id"] for o in listed] == [1, 2] and all(o["active"] for o in listed)
    assert listed[0]["author"] == author.address and listed[0]["terms_sha256"] == TERMS.hex()


@pytest.mark.parametrize("value", [0, PRICE - 1, PRICE + 1, 2 * PRICE])
def test_anything_but_the_price_reverts(
    anvil: AnvilNode, chain: MarketChain, market: str, tmp_path: Path, value: int
) -> None:
    author, buyer = read_key(key_file(tmp_path, 0)), read_key(key_file(tmp_path, 1))
    offer_id = _offer(chain, market, author)
    with pytest.raises(MarketError, match="value is not the price"):
        chain.call(buyer, market, "buy", offer_id, CLAIM, value=value)
    assert _balance(anvil, market) == 0 and chain.sales(market, from_block=0) == []


def test_withdrawn_and_unknown_offers_cannot_be_bought(
    chain: MarketChain, market: str, tmp_path: Path
) -> None:
    author, buyer = read_key(key_file(tmp_path, 0)), read_key(key_file(tmp_path, 1))
    offer_id = _offer(chain, market, author)
    with pytest.raises(MarketError, match="not the offer's author"):
        chain.call(buyer, market, "withdraw", offer_id)
    chain.call(author, market, "withdraw", offer_id)
    for unknown in (offer_id, 99):
        with pytest.raises(MarketError, match="no such active offer"):
            chain.call(buyer, market, "buy", unknown, CLAIM, value=PRICE)
    with pytest.raises(MarketError, match="no such active offer"):
        chain.call(author, market, "withdraw", offer_id)
    assert chain.offers(market)[0]["active"] is False


def _author_contract(chain: MarketChain, market: str, mode: int, signer: Any) -> Any:
    compiled = compile_source(AUTHOR)
    sent = chain.send(
        signer,
        {
            "data": compiled.bytecode
            + bytes(12)
            + bytes.fromhex(market[2:])
            + mode.to_bytes(32, "big")
        },
        "deploy a test author",
    )
    assert sent.contract is not None
    return chain.w3.eth.contract(address=sent.contract, abi=compiled.abi)


def _list(chain: MarketChain, author: Any, signer: Any) -> int:
    data = author.encode_abi("list", args=[WORK, PRICE])
    chain.send(signer, {"to": author.address, "data": data}, "list an offer")
    return int(author.functions.offer_id().call())


def test_a_reentering_author_cannot_drain_or_block_others(
    anvil: AnvilNode, chain: MarketChain, market: str, tmp_path: Path
) -> None:
    honest, buyer = read_key(key_file(tmp_path, 0)), read_key(key_file(tmp_path, 1))
    swallowing = _author_contract(chain, market, 1, honest)
    strict = _author_contract(chain, market, 2, honest)
    theirs, strict_offer = _list(chain, swallowing, honest), _list(chain, strict, honest)
    ours = _offer(chain, market, honest)
    # The re-entry into buy is refused (non-reentrant lock); ignoring that, the author is
    # paid once and one licence is sold.
    sent = chain.call(buyer, market, "buy", theirs, CLAIM, value=PRICE)
    assert swallowing.functions.attempts().call() == 1
    assert swallowing.functions.reentered().call() is False
    assert _balance(anvil, swallowing.address) == PRICE and _balance(anvil, market) == 0
    # An author that insists on re-entering blocks the sale of its own offer only.
    before = _balance(anvil, buyer.address)
    with pytest.raises(MarketError, match="cannot buy"):
        chain.call(buyer, market, "buy", strict_offer, CLAIM, value=PRICE)
    assert _balance(anvil, buyer.address) == before and _balance(anvil, strict.address) == 0
    honest_before = _balance(anvil, honest.address)
    chain.call(buyer, market, "buy", ours, CLAIM, value=PRICE)
    assert _balance(anvil, honest.address) == honest_before + PRICE
    assert _balance(anvil, market) == 0
    sales = chain.sales(market, from_block=sent.block_number)
    assert [s.offer_id for s in sales] == [theirs, ours]


def test_an_author_refusing_payment_makes_the_sale_revert(
    anvil: AnvilNode, chain: MarketChain, market: str, tmp_path: Path
) -> None:
    deployer, buyer = read_key(key_file(tmp_path, 0)), read_key(key_file(tmp_path, 1))
    refusing = _author_contract(chain, market, 3, deployer)
    offer_id = _list(chain, refusing, deployer)
    before = _balance(anvil, buyer.address)
    with pytest.raises(MarketError, match="cannot buy"):
        chain.call(buyer, market, "buy", offer_id, CLAIM, value=PRICE)
    # Refused at the gas estimate already: nothing was sent, the buyer keeps everything.
    assert _balance(anvil, buyer.address) == before
    assert _balance(anvil, refusing.address) == 0 and _balance(anvil, market) == 0
    assert chain.sales(market, from_block=0) == []
    # Sent anyway (a wallet that skips the estimate), the transaction reverts on chain.
    tx = {
        "from": buyer.address,
        "to": market,
        "value": hex(PRICE),
        "gas": hex(200_000),
        "data": chain.contract(market).encode_abi("buy", args=[offer_id, CLAIM]),
    }
    tx_hash = anvil.rpc("eth_sendTransaction", tx)
    receipt = chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10, poll_latency=0.05)
    assert receipt["status"] == 0
    assert _balance(anvil, refusing.address) == 0 and _balance(anvil, market) == 0
    spent = before - _balance(anvil, buyer.address)
    assert spent == receipt["gasUsed"] * receipt["effectiveGasPrice"]


def test_a_node_of_another_chain_and_foreign_code_are_refused(
    anvil: AnvilNode, chain: MarketChain
) -> None:
    with pytest.raises(MarketError, match="serves chain 31337, not 1"):
        MarketChain(rpc_url=anvil.url, chain_id=1)
    with pytest.raises(MarketError, match="cannot reach the EVM node"):
        MarketChain(rpc_url="http://127.0.0.1:9", chain_id=31337)
    for address in (DEV_ADDRESSES[2], Web3.to_checksum_address("0x" + "42" * 20)):
        with pytest.raises(MarketError, match="not copyseal's licence market contract"):
            chain.check_code(address)
