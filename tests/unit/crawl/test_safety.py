from __future__ import annotations

import asyncio

import pytest

from copyseal.crawl._safety import (
    AddressPolicy,
    RefusedAddress,
    SafetyMiddleware,
    address_is_public,
)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("not an address", False),
    ],
)
def test_address_is_public(address: str, public: bool) -> None:
    assert address_is_public(address) is public


def refusal(url: str, *, allow_private: bool = False) -> str | None:
    return asyncio.run(AddressPolicy(allow_private=allow_private).refusal(url))


def test_private_hosts_are_refused_with_a_reason() -> None:
    assert (
        refusal("http://127.0.0.1:8000/")
        == "host 127.0.0.1 resolves to non-public address 127.0.0.1"
        " (127.0.0.1 is loopback (RFC 1122))"
    )
    assert "non-public" in (refusal("http://[::1]/") or "")
    assert refusal("http://169.254.169.254/latest/meta-data/") is not None
    assert refusal("http://localhost/") == "host localhost is private"
    assert refusal("http://printer.local/") == "host printer.local is private"
    assert refusal("file:///etc/passwd") == "scheme 'file' not allowed"
    assert refusal("http://93.184.216.34/") is None
    assert refusal("data:image/png;base64,AAAA") is None


def test_explicit_allow_private() -> None:
    assert refusal("http://127.0.0.1:8000/", allow_private=True) is None
    assert refusal("ftp://127.0.0.1/", allow_private=True) == "scheme 'ftp' not allowed"


def test_middleware_raises_a_documented_ignore_request() -> None:
    class Req:
        url = "http://10.0.0.1/x"

    mw = SafetyMiddleware(AddressPolicy())
    with pytest.raises(RefusedAddress, match=r"refused: host 10\.0\.0\.1"):
        asyncio.run(mw.process_request(Req()))


def test_browser_requests_are_aborted_too() -> None:
    class Req:
        url = "http://192.168.0.10/tracker.gif"

    assert asyncio.run(AddressPolicy().should_abort(Req())) is True
    assert asyncio.run(AddressPolicy(allow_private=True).should_abort(Req())) is False
