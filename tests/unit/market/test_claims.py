"""Licensee claims: one canonical form per claim, its keccak256, and files of claims."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_utils.crypto import keccak

from copyseal.market import (
    MarketError,
    canonical_claim,
    licensee_hash,
    payment_uri,
    terms_domains,
)
from copyseal.market._claims import load_claims


def test_a_claim_has_one_canonical_form() -> None:
    body = canonical_claim(" Shop Ltd ", ["B.example.", "a.example", "b.example", " "])
    assert body == b'{"domains":["a.example","b.example"],"licensee":"Shop Ltd"}'
    assert licensee_hash("Shop Ltd", ["a.example", "B.EXAMPLE"]) == keccak(body)
    assert canonical_claim("Zoë", []) == '{"domains":[],"licensee":"Zoë"}'.encode()
    with pytest.raises(MarketError, match="needs a licensee name"):
        canonical_claim("  ", ["a.example"])


def test_claims_files_and_folders(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text(
        json.dumps({"licensee": "A", "domains": ["a.example"]}), "utf-8"
    )
    (tmp_path / "two.json").write_text(
        json.dumps([{"licensee": "B", "domains": ["B.example"]}]), "utf-8"
    )
    found = load_claims([tmp_path])
    assert found == {
        licensee_hash("A", ["a.example"]): ("A", ["a.example"]),
        licensee_hash("B", ["b.example"]): ("B", ["b.example"]),
    }
    bad = tmp_path / "bad" / "x.json"
    bad.parent.mkdir()
    bad.write_text('{"licensee": "C", "domains": "c.example"}', "utf-8")
    with pytest.raises(MarketError, match="a claim is"):
        load_claims([bad])
    bad.write_text("{nope", "utf-8")
    with pytest.raises(MarketError, match="cannot read claims file"):
        load_claims([bad.parent])


def test_terms_name_domains_only_as_a_json_list() -> None:
    assert terms_domains(b'{"domains": ["a.example", 3, ""], "x": 1}') == ["a.example"]
    assert terms_domains(b"plain text terms") == []
    assert terms_domains(b'{"domains": "a.example"}') == []
    assert terms_domains(b"\xff\xfe") == []


def test_the_payment_uri_is_an_eip681_function_call() -> None:
    uri = payment_uri(
        contract="0x5FbDB2315678afecb367f032d93F642f64180aa3",
        chain_id=1,
        offer_id=7,
        price_wei=10**18,
        licensee=b"\xab" * 32,
    )
    assert uri == (
        "ethereum:0x5FbDB2315678afecb367f032d93F642f64180aa3@1/buy?uint256=7"
        f"&bytes32=0x{'ab' * 32}&value=1000000000000000000"
    )
