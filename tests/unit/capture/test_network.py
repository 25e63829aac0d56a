"""Network facts that need no browser: DNS, TLS of an http page, header blocks."""

from __future__ import annotations

import asyncio

from copyseal.capture._network import dns_answers, redirect_chain, tls_facts
from copyseal.capture._recorder import parse_header_block, warc_date


def test_dns_answers_for_an_ip_literal() -> None:
    facts = asyncio.run(dns_answers("http://127.0.0.1:8080/x"))
    assert facts["host"] == "127.0.0.1" and facts["port"] == 8080
    assert facts["ip_literal"] is True
    assert facts["answers"] == [{"family": "IPv4", "address": "127.0.0.1"}]


def test_dns_answers_for_localhost_and_default_ports() -> None:
    facts = asyncio.run(dns_answers("https://localhost/"))
    assert facts["port"] == 443 and facts["ip_literal"] is False
    assert {"family": "IPv4", "address": "127.0.0.1"} in facts["answers"]


def test_dns_failure_is_recorded_not_raised() -> None:
    facts = asyncio.run(dns_answers("http://no-such-host.invalid/"))
    assert facts["answers"] == []
    assert facts["error"]


def test_an_http_page_has_no_tls() -> None:
    facts = tls_facts(
        "http://example.test/",
        playwright_details=None,
        devtools_response=None,
        chain_pem=[],
        ignore_https_errors=False,
    )
    assert facts == {
        "used": False,
        "reason": "the page was served over plain HTTP: there is no TLS",
    }


def test_tls_facts_merge_browser_views() -> None:
    facts = tls_facts(
        "https://example.test/",
        playwright_details={"protocol": "TLS 1.3", "subjectName": "example.test", "validTo": 0},
        devtools_response={
            "securityState": "secure",
            "securityDetails": {"cipher": "AES_128_GCM", "issuer": "Test CA", "sanList": ["a"]},
        },
        chain_pem=["-----BEGIN CERTIFICATE-----\n"],
        ignore_https_errors=False,
    )
    assert facts["protocol"] == "TLS 1.3" and facts["cipher"] == "AES_128_GCM"
    assert facts["issuer"] == "Test CA" and facts["subject"] == "example.test"
    assert facts["valid_to"] == "1970-01-01T00:00:00Z"
    assert facts["browser_security_state"] == "secure"
    assert facts["chain_source"].startswith("DevTools")


def test_redirect_chain_keeps_order() -> None:
    hops = [
        {"url": "http://a/", "status": 301, "location": "/b"},
        {"url": "http://a/b", "status": 200},
    ]
    chain = redirect_chain(hops)
    assert [h["status"] for h in chain] == [301, 200]
    assert chain[0]["location"] == "/b" and chain[1]["location"] is None


def test_parse_header_block_keeps_wire_order_and_folding() -> None:
    text = "HTTP/1.0 404 Not Found\r\nServer: x\r\nX-Long: a\r\n b\r\nDate: d\r\n\r\n"
    assert parse_header_block(text) == (
        "HTTP/1.0",
        404,
        "Not Found",
        [("Server", "x"), ("X-Long", "a b"), ("Date", "d")],
    )
    assert parse_header_block("garbage") is None
    assert parse_header_block("HTTP/1.1 200\r\n\r\n") == ("HTTP/1.1", 200, "", [])


def test_warc_date_has_microseconds_in_utc() -> None:
    assert warc_date(0.25) == "1970-01-01T00:00:00.250000Z"
