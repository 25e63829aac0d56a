"""``copyseal market deploy|offer|offers|withdraw|sync`` on a workspace and a real anvil:
the JSON shapes, the EIP-681 payment URI, and how a sale's licensee and domains are found
(the buyer's claim, else the offer's terms, else pending)."""

from __future__ import annotations

import json
import logging
import sys
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from copyseal.cli import main
from copyseal.config import Settings, load_settings
from copyseal.loopback.anvil import DEV_ADDRESSES, AnvilNode
from copyseal.market import NO_CLAIM, MarketChain, licensee_hash, read_key
from copyseal.registry import register_paths
from copyseal.workspace import Workspace

from .conftest import key_file

PRICE = 123_456_789


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
    finally:
        log = logging.getLogger("copyseal")
        for handler in log.handlers:
            handler.close()
        log.handlers.clear()
    out = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), out.out, out.err


@pytest.fixture
def shop(anvil: AnvilNode, workspace_settings: Settings, tmp_path: Path) -> dict[str, Any]:
    """A workspace (SQLite, PostgreSQL) whose chain ``local`` is the anvil, with one
    registered work."""
    assert workspace_settings.source is not None
    config = workspace_settings.source
    doc = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    chain = {"rpc_url": anvil.url, "chain_id": anvil.chain_id}
    chain["key_file"] = str(key_file(tmp_path, 0))
    doc.setdefault("anchors", {})["evm"] = {"local": chain}
    config.write_text(yaml.safe_dump(doc), encoding="utf-8")
    picture = tmp_path / "work.png"
    Image.new("RGB", (64, 48), (200, 30, 90)).save(picture)
    ws = Workspace.open(load_settings(config))
    try:
        [record] = list(register_paths(ws, [picture]))
        work_id = str(record.work_id)
    finally:
        ws.close()
    return {"config": str(config), "work_id": work_id}


def _terms(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_deploy_offer_buy_and_sync(
    shop: dict[str, Any],
    anvil: AnvilNode,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    c = ["--config", shop["config"]]
    code, out, err = run(capsys, *c, "market", "deploy", "local", "--json")
    assert code == 0, err
    deployed = json.loads(out)
    assert set(deployed) == {"name", "chain_id", "contract", "tx_hash", "block_number"}
    assert (deployed["name"], deployed["chain_id"]) == ("local", 31337)
    code, _, err = run(capsys, *c, "market", "deploy", "local")
    assert code != 0 and "deployed the market" in err and "already" in err

    with_domains = _terms(tmp_path, "t1.json", '{"domains": ["shop.example"], "text": "web"}')
    code, out, err = run(
        capsys, *c, "market", "offer", shop["work_id"], "--price-wei", str(PRICE),
        "--duration-days", "30", "--terms-file", with_domains, "--json",
    )  # fmt: skip
    assert code == 0, err
    offer = json.loads(out)
    assert set(offer) == {
        "offer_id", "work_id", "price_wei", "valid_days", "terms_sha256", "payment_uri",
        "tx_hash",
    }  # fmt: skip
    assert (offer["offer_id"], offer["work_id"], offer["price_wei"], offer["valid_days"]) == (
        1, shop["work_id"], PRICE, 30,
    )  # fmt: skip
    contract = deployed["contract"]
    assert offer["payment_uri"] == (
        f"ethereum:{contract}@31337/buy?uint256=1&bytes32=0x{'00' * 32}&value={PRICE}"
    )
    plain = _terms(tmp_path, "t2.txt", "any web use, one site")
    code, out, err = run(
        capsys, *c, "market", "offer", shop["work_id"], "--price-wei", str(PRICE),
        "--duration-days", "1", "--terms-file", plain, "--json",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["offer_id"] == 2
    code, out, _ = run(capsys, *c, "market", "offers", "--json")
    listed = json.loads(out)
    assert [(o["offer_id"], o["work_id"], o["active"]) for o in listed] == [
        (1, shop["work_id"], True),
        (2, shop["work_id"], True),
    ]

    # Three sales from account 1: no claim (terms name the domain), a claim given to
    # sync, and a claim nobody supplied (offer 2's terms name no domains: pending).
    chain = MarketChain(rpc_url=anvil.url, chain_id=31337)
    buyer = read_key(key_file(tmp_path, 1))
    claim = licensee_hash("Shop Ltd", ["B.example", "a.example"])
    for offer_id, licensee in ((1, NO_CLAIM), (2, claim), (2, b"\x01" * 32)):
        chain.call(buyer, contract, "buy", offer_id, licensee, value=PRICE)
    claims = tmp_path / "claims"
    claims.mkdir()
    (claims / "shop.json").write_text(
        json.dumps({"licensee": "Shop Ltd", "domains": ["a.example", "b.example"]}), "utf-8"
    )

    calls: list[dict[str, Any]] = []

    class Record:
        def __init__(self, sale: dict[str, Any]) -> None:
            self.sale = sale

        def to_json(self) -> dict[str, Any]:
            return {"licence_id": f"L{len(calls)}", "tx_hash": self.sale["tx_hash"]}

    def import_sale(ws: Workspace, **sale: Any) -> Record:
        calls.append(sale)
        return Record(sale)

    registry = types.ModuleType("copyseal.licences")
    registry.import_sale = import_sale  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "copyseal.licences", registry)
    code, out, err = run(capsys, *c, "market", "sync", "--claims", str(claims), "--json")
    assert code == 0, err
    synced = json.loads(out)
    assert synced["imported"] == 2 and len(synced["licences"]) == 2
    assert [p["offer_id"] for p in synced["pending"]] == [2]
    assert len(synced["warnings"]) == 1
    assert "pending until its claim is given" in synced["warnings"][0]
    first, second = calls
    assert (first["licensee"], first["domains"]) == (buyer.address, ["shop.example"])
    assert (second["licensee"], second["domains"]) == ("Shop Ltd", ["a.example", "b.example"])
    assert first["work_id"] == shop["work_id"] and first["chain_id"] == 31337
    assert first["buyer"] == buyer.address and first["url_patterns"] == []
    assert first["log_index"] == 0 and first["tx_hash"] != second["tx_hash"]
    assert first["valid_until"] - first["valid_from"] == (
        datetime.fromtimestamp(30 * 86_400, UTC) - datetime.fromtimestamp(0, UTC)
    )
    assert first["terms_sha256"] == offer["terms_sha256"]

    code, out, _ = run(capsys, *c, "market", "withdraw", "1", "--json")
    assert code == 0 and json.loads(out)["offer_id"] == 1
    code, out, _ = run(capsys, *c, "market", "offers", "--json")
    assert [o["active"] for o in json.loads(out)] == [False, True]


def test_sync_twice_imports_once(
    shop: dict[str, Any], anvil: AnvilNode, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    licences = pytest.importorskip("copyseal.licences")
    if not hasattr(licences, "import_sale"):
        pytest.skip("copyseal.licences.import_sale is not there yet")
    c = ["--config", shop["config"]]
    code, out, err = run(capsys, *c, "market", "deploy", "local", "--json")
    assert code == 0, err
    contract = json.loads(out)["contract"]
    terms = _terms(tmp_path, "t.json", '{"domains": ["shop.example"]}')
    code, out, err = run(
        capsys, *c, "market", "offer", shop["work_id"], "--price-wei", str(PRICE),
        "--duration-days", "30", "--terms-file", terms, "--json",
    )  # fmt: skip
    assert code == 0, err
    chain = MarketChain(rpc_url=anvil.url, chain_id=31337)
    chain.call(read_key(key_file(tmp_path, 1)), contract, "buy", 1, NO_CLAIM, value=PRICE)
    code, out, err = run(capsys, *c, "market", "sync", "--json")
    assert code == 0, err
    once = json.loads(out)
    code, out, err = run(capsys, *c, "market", "sync", "--json")
    twice = json.loads(out)
    assert (once["imported"], twice["imported"]) == (1, 0)
    assert once["licences"][0]["licence_id"] == twice["licences"][0]["licence_id"]
    sold = once["licences"][0]
    assert (sold["source"], sold["domains"]) == ("market", ["shop.example"])
    # The sold licence covers its site while it is valid, and nothing else.
    ws = Workspace.open(load_settings(Path(shop["config"])))
    try:
        during = datetime.fromisoformat(sold["valid_from"]) + timedelta(days=1)
        after = datetime.fromisoformat(sold["valid_until"]) + timedelta(seconds=1)
        on_site = "https://shop.example/gallery"
        verdict = licences.classify(ws, work_id=shop["work_id"], page_url=on_site, at=during)
        assert verdict.licence_id == sold["licence_id"]
        elsewhere = "https://other.example/gallery"
        assert not licences.classify(
            ws, work_id=shop["work_id"], page_url=elsewhere, at=during
        ).licensed
        assert not licences.classify(
            ws, work_id=shop["work_id"], page_url=on_site, at=after
        ).licensed
    finally:
        ws.close()


def test_the_market_needs_a_chain_and_a_contract(
    shop: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    c = ["--config", shop["config"]]
    code, _, err = run(capsys, *c, "market", "offers")
    assert code != 0 and "has no contract: run `copyseal market deploy local`" in err
    code, _, err = run(capsys, *c, "market", "deploy", "other")
    assert code != 0 and "no chain anchors.evm.other for the market (local)" in err
    # An address that is not the market contract (an account, another contract) is refused.
    elsewhere = [*c, "--set", f"market.contract={DEV_ADDRESSES[2]}"]
    code, _, err = run(capsys, *elsewhere, "market", "offers")
    assert code != 0 and "holds no code, not copyseal's licence market contract" in err
    code, _, err = run(capsys, *c, "--set", "market.contract=nope", "market", "offers")
    assert code != 0 and "'nope' is not an address" in err
    code, _, err = run(capsys, *elsewhere, "market", "deploy", "local")
    assert code != 0 and "market.contract is set" in err


def test_the_work_page_lists_the_works_offers(
    shop: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The review app's work page reads the market's offers for that work from the chain,
    and shows a note (never an error page) when the node cannot be asked."""
    from copyseal.web._pages_licences import _market_offers

    c = ["--config", shop["config"]]
    assert run(capsys, *c, "market", "deploy", "local")[0] == 0
    terms = _terms(tmp_path, "t.txt", "web use")
    code, _, err = run(
        capsys, *c, "market", "offer", shop["work_id"], "--price-wei", str(PRICE),
        "--duration-days", "7", "--terms-file", terms,
    )  # fmt: skip
    assert code == 0, err
    ws = Workspace.open(load_settings(Path(shop["config"])))
    try:
        offers, note = _market_offers(ws, shop["work_id"])
        assert note is None and [(o["offer_id"], o["price_wei"]) for o in offers] == [(1, PRICE)]
        assert _market_offers(ws, "w" + "0" * 20) == ([], None)
    finally:
        ws.close()
    doc = yaml.safe_load(Path(shop["config"]).read_text(encoding="utf-8"))
    doc["anchors"]["evm"]["local"]["rpc_url"] = "http://127.0.0.1:9"
    Path(shop["config"]).write_text(yaml.safe_dump(doc), encoding="utf-8")
    ws = Workspace.open(load_settings(Path(shop["config"])))
    try:
        offers, note = _market_offers(ws, shop["work_id"])
        assert offers == [] and note is not None and "could not be read" in note
    finally:
        ws.close()
