"""Which addresses copyseal may connect to: the IANA special-purpose ranges and the IPv6
forms that embed an IPv4 address."""

from __future__ import annotations

import ipaddress
import re

import pytest

from copyseal.errors import ConfigError
from copyseal.netpolicy import address_refusal, parse_networks

REFUSED = [
    # IPv4 special-purpose registry (RFC 6890 and updates)
    ("0.0.0.0", "'this network'"),
    ("0.1.2.3", "'this network'"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "CGNAT"),
    ("100.127.255.254", "CGNAT"),
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("169.254.169.254", "link-local"),
    ("192.0.0.8", "IETF protocol"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("192.88.99.1", "6to4 relay"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.1", "benchmarking"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    # IPv6
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("fe80::1%eth0", "link-local"),
    ("fec0::1", "site-local"),
    ("fc00::1", "unique local"),
    ("fd12:3456::1", "unique local"),
    ("ff02::1", "multicast"),
    ("100::1", "discard-only"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("2001:2::1", "benchmarking"),
    ("2001:10::1", "ORCHID"),
    ("5f00::1", "SRv6"),
    ("4000::1", "outside the global unicast space"),
    ("2001:100::1", "IETF protocol assignment"),
    # IPv6 forms embedding a refused IPv4 address
    ("::ffff:127.0.0.1", "IPv4-mapped for 127.0.0.1 is loopback"),
    ("::ffff:10.0.0.1", "IPv4-mapped for 10.0.0.1 is private"),
    ("::127.0.0.1", "IPv4-compatible for 127.0.0.1 is loopback"),
    ("::a9fe:a9fe", "IPv4-compatible for 169.254.169.254 is link-local"),
    ("64:ff9b::127.0.0.1", "NAT64 for 127.0.0.1 is loopback"),
    ("64:ff9b::a9fe:a9fe", "NAT64 for 169.254.169.254"),
    ("64:ff9b:1::5db8:d822", "NAT64 local-use prefix"),
    ("2002:7f00:1::", "6to4 for 127.0.0.1 is loopback"),
    ("2002:c0a8:101::1", "6to4 for 192.168.1.1 is private"),
    # Teredo: server 65.54.227.120 (global), client 10.0.0.1 (XOR-obfuscated)
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo client for 10.0.0.1 is private"),
    ("not an address", "not an IP address"),
]

ALLOWED = [
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "2606:2800:220:1:248:1893:25c8:1946",
    "2a00:1450:4001:80b::200e",
    "::ffff:93.184.216.34",
    "64:ff9b::93.184.216.34",
    "2002:5db8:d822::1",
    "2001:0:4136:e378:8000:63bf:a247:2bdd",  # Teredo client 93.184.216.34
]


@pytest.mark.parametrize(("address", "why"), REFUSED)
def test_non_global_addresses_are_refused_with_the_range_named(address: str, why: str) -> None:
    found = address_refusal(address)
    assert found is not None and why in found, found


@pytest.mark.parametrize("address", ALLOWED)
def test_global_addresses_pass(address: str) -> None:
    assert address_refusal(address) is None


def test_the_teredo_vectors_decode_as_stated() -> None:
    # The table's Teredo addresses, checked against Python's decoder (RFC 4380 §4).
    ip = ipaddress.IPv6Address("2001:0:4136:e378:8000:63bf:f5ff:fffe")
    assert ip.teredo == (
        ipaddress.IPv4Address("65.54.227.120"),
        ipaddress.IPv4Address("10.0.0.1"),
    )


def test_allowed_networks_open_exactly_their_range() -> None:
    nets = parse_networks(["127.0.0.2/32", "fd00:1::/64"], source="--allow-network")
    assert address_refusal("127.0.0.2", networks=nets) is None
    assert address_refusal("::ffff:127.0.0.2", networks=nets) is None
    assert address_refusal("fd00:1::5", networks=nets) is None
    assert address_refusal("127.0.0.1", networks=nets) is not None
    assert address_refusal("::ffff:127.0.0.1", networks=nets) is not None
    assert address_refusal("fd00:2::5", networks=nets) is not None


@pytest.mark.parametrize("value", ["127.0.0.300/32", "10.0.0.1/8", "example.com", "::1/129"])
def test_an_invalid_network_names_its_source_and_value(value: str) -> None:
    expected = re.escape(f"crawl.allow_networks: '{value}' is not a network")
    with pytest.raises(ConfigError, match=expected):
        parse_networks([value], source="crawl.allow_networks")
