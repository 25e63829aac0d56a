"""The address policy: every answer judged, one resolution per name (DNS rebinding)."""

from __future__ import annotations

import asyncio
import copy
import threading

import pytest

from copyseal.errors import ConfigError
from copyseal.netpolicy import AddressPolicy, Pinned, Refusal


class Rebinding:
    """A resolver whose answer for a name changes on every lookup (an attacker's DNS
    with TTL 0: public for the check, internal for the connection)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        return self.answers[min(len(self.lookups), len(self.answers)) - 1]


def test_a_rebinding_name_is_resolved_once_and_pinned() -> None:
    dns = Rebinding(["93.184.216.34"], ["127.0.0.1"])
    policy = AddressPolicy(resolver=dns)
    assert asyncio.run(policy.check("http://rebind.example/a")) is None
    # The connection asks again: it gets the checked answer, not the attacker's second one.
    pinned = policy.pin("rebind.example", 80)
    assert pinned == Pinned(host="rebind.example", addresses=("93.184.216.34",))
    assert asyncio.run(policy.pin_async("REBIND.example.", 443)) == pinned
    assert dns.lookups == ["rebind.example"]


def test_a_name_with_any_internal_answer_is_refused() -> None:
    policy = AddressPolicy(resolver=lambda h, p: ["93.184.216.34", "10.0.0.7"])
    found = asyncio.run(policy.check("https://mixed.example/"))
    assert found == Refusal(
        code="private-address",
        detail="host mixed.example resolves to non-public address 10.0.0.7"
        " (10.0.0.7 is private (RFC 1918))",
    )


def test_a_refusal_is_pinned_too() -> None:
    dns = Rebinding(["127.0.0.1"], ["93.184.216.34"])
    policy = AddressPolicy(resolver=dns)
    assert isinstance(policy.pin("flip.example"), Refusal)
    assert isinstance(policy.pin("flip.example"), Refusal)
    assert dns.lookups == ["flip.example"]


def test_concurrent_first_lookups_agree_on_one_answer() -> None:
    dns = Rebinding(*[[f"93.184.216.{i}"] for i in range(1, 40)])
    policy = AddressPolicy(resolver=dns)
    seen: list[Pinned | Refusal] = []
    threads = [
        threading.Thread(target=lambda: seen.append(policy.pin("race.example"))) for _ in range(16)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({repr(s) for s in seen}) == 1


def test_names_and_schemes() -> None:
    policy = AddressPolicy(resolver=lambda h, p: ["93.184.216.34"])
    check = lambda url: asyncio.run(policy.refusal(url))  # noqa: E731
    assert check("http://localhost/") == "host localhost is private"
    assert check("http://printer.local/") == "host printer.local is private"
    assert check("http://router.home.arpa/") == "host router.home.arpa is private"
    assert check("file:///etc/passwd") == "scheme 'file' not allowed"
    assert check("gopher://example.com/") == "scheme 'gopher' not allowed"
    assert check("http:///path") == "no host"
    assert check("data:image/png;base64,AAAA") is None
    assert check("wss://example.com/socket") is None
    assert check("http://[::ffff:7f00:1]/") is not None
    assert check("http://[64:ff9b::7f00:1]:8080/") is not None


def test_a_failed_lookup_is_a_dns_refusal() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    found = asyncio.run(AddressPolicy(resolver=fail).check("http://nx.example/"))
    assert found is not None and found.code == "dns" and "nx.example" in found.detail


def test_allowances() -> None:
    net = AddressPolicy.build(networks=["127.0.0.2/32"], resolver=lambda h, p: ["127.0.0.2"])
    assert asyncio.run(net.check("http://127.0.0.2:8000/")) is None
    assert asyncio.run(net.check("http://site.test/")) is None
    assert asyncio.run(net.check("http://127.0.0.1:8000/")) is not None
    everything = AddressPolicy(allow_private=True)
    assert asyncio.run(everything.check("http://127.0.0.1:8000/")) is None
    assert asyncio.run(everything.check("ftp://127.0.0.1/")) is not None
    assert net.describe()["allow_networks"] == ["127.0.0.2/32"]


def test_an_invalid_cidr_names_the_flag() -> None:
    with pytest.raises(ConfigError, match="--allow-network: 'ten' is not a network"):
        AddressPolicy.build(networks=["ten"])


def test_copies_share_the_pins() -> None:
    # Scrapy deep-copies its settings: the middleware and the resolver must still share
    # one policy (one cache), or the pin would not hold.
    policy = AddressPolicy()
    assert copy.deepcopy({"p": policy})["p"] is policy
    assert copy.copy(policy) is policy


def test_an_invalid_name_is_refused_without_a_lookup_even_when_private_is_allowed() -> None:
    """RFC 6761 §6.4: ``.invalid`` never resolves (Chromium's service URLs point there),
    so no DNS server is asked, not even one that answers every name (a wildcard)."""
    dns = Rebinding(["93.184.216.34"])
    for allow_private in (False, True):
        policy = AddressPolicy(resolver=dns, allow_private=allow_private)
        for host in ("gaia.invalid", "COMPONENTS.INVALID.", "invalid"):
            found = policy.pin(host, 80)
            assert isinstance(found, Refusal) and found.code == "dns", (host, found)
            assert ".invalid (RFC 6761)" in found.detail
    assert dns.lookups == []
    assert isinstance(policy.pin("invalid.example", 80), Pinned)  # only the TLD is special
