"""Which IP addresses copyseal may connect to: global unicast only, unless allowed.

The refused ranges are the IANA special-purpose address registries (RFC 6890 and its
updates: RFC 8190, RFC 9637 for ``3fff::/20``, RFC 9602 for ``5f00::/16``), multicast
(RFC 5771, RFC 4291 §2.7) and, for IPv6, everything outside the global unicast space
``2000::/3`` (RFC 4291 §2.4). Python's ``ipaddress.is_global`` is not enough on its own:
on Python 3.11.7 it calls ``64:ff9b:1::1`` and ``::7f00:1`` global.

IPv6 forms that carry an IPv4 address are judged by the IPv4 address they reach:
IPv4-mapped ``::ffff:a.b.c.d`` (RFC 4291 §2.5.5.2), IPv4-compatible ``::a.b.c.d``
(deprecated, §2.5.5.1), NAT64 ``64:ff9b::/96`` (RFC 6052), 6to4 ``2002::/16`` (RFC 3056)
and Teredo ``2001::/32`` (RFC 4380: its server and its client's address). The NAT64
local-use prefix ``64:ff9b:1::/48`` (RFC 8215) embeds its IPv4 address at an operator-
chosen position, so it cannot be judged and is refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Final

from copyseal.errors import ConfigError

__all__ = ["IPAddress", "IPNetwork", "address_refusal", "parse_networks"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _nets(*cidrs: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(c) for c in cidrs)


#: IPv4 ranges refused, with the registry's name (IANA IPv4 Special-Purpose Address
#: Registry; multicast RFC 5771; limited broadcast RFC 919).
_V4_REFUSED: Final = (
    (_nets("0.0.0.0/8"), "'this network' (RFC 791)"),
    (_nets("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"), "private (RFC 1918)"),
    (_nets("100.64.0.0/10"), "shared address space / CGNAT (RFC 6598)"),
    (_nets("127.0.0.0/8"), "loopback (RFC 1122)"),
    (_nets("169.254.0.0/16"), "link-local (RFC 3927)"),
    (_nets("192.0.0.0/24"), "IETF protocol assignments (RFC 6890)"),
    (_nets("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"), "documentation (RFC 5737)"),
    (_nets("192.88.99.0/24"), "deprecated 6to4 relay anycast (RFC 7526)"),
    (_nets("198.18.0.0/15"), "benchmarking (RFC 2544)"),
    (_nets("224.0.0.0/4"), "multicast (RFC 5771)"),
    (_nets("255.255.255.255/32"), "limited broadcast (RFC 919)"),
    (_nets("240.0.0.0/4"), "reserved (RFC 1112)"),
)

#: IPv6 ranges refused outright (IANA IPv6 Special-Purpose Address Registry, RFC 4291).
_V6_REFUSED: Final = (
    (_nets("::/128"), "unspecified (RFC 4291)"),
    (_nets("::1/128"), "loopback (RFC 4291)"),
    (_nets("64:ff9b:1::/48"), "NAT64 local-use prefix, embedded IPv4 not judgeable (RFC 8215)"),
    (_nets("100::/64"), "discard-only (RFC 6666)"),
    (_nets("2001:2::/48"), "benchmarking (RFC 5180)"),
    (_nets("2001:10::/28"), "deprecated ORCHID (RFC 4843)"),
    (_nets("2001:db8::/32", "3fff::/20"), "documentation (RFC 3849, RFC 9637)"),
    (_nets("5f00::/16"), "SRv6 SIDs (RFC 9602)"),
    (_nets("fc00::/7"), "unique local (RFC 4193)"),
    (_nets("fe80::/10"), "link-local (RFC 4291)"),
    (_nets("fec0::/10"), "deprecated site-local (RFC 3879)"),
    (_nets("ff00::/8"), "multicast (RFC 4291)"),
)
_V6_GLOBAL_UNICAST: Final = ipaddress.ip_network("2000::/3")
_IPV4_COMPATIBLE: Final = ipaddress.ip_network("::/96")
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")
# 2001::/23 is IETF protocol assignments; inside it only these are globally reachable
# per the IANA registry (Teredo is judged by its embedded addresses below).
_V6_IETF: Final = ipaddress.ip_network("2001::/23")
_V6_IETF_GLOBAL: Final = _nets(
    "2001:1::1/128", "2001:1::2/128", "2001:1::3/128", "2001:3::/32", "2001:4:112::/48",
    "2001:20::/28", "2001:30::/28",
)  # fmt: skip


def parse_networks(values: Iterable[str], *, source: str) -> tuple[IPNetwork, ...]:
    """CIDR strings (``127.0.0.2/32``, ``10.1.0.0/16``, ``fd00::/8``) as networks.

    Args:
        values: The CIDRs; a bare address means that one address.
        source: The flag or configuration key they came from (named in errors).

    Raises:
        ConfigError: a value is not a network (host bits set count as invalid, so that
            ``10.0.0.1/8`` is not silently widened).
    """
    out: list[IPNetwork] = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(str(value).strip(), strict=True))
        except ValueError as e:
            raise ConfigError(f"{source}: {value!r} is not a network in CIDR form: {e}") from e
    return tuple(out)


def _embedded_v4(ip: ipaddress.IPv6Address) -> tuple[tuple[ipaddress.IPv4Address, str], ...]:
    """The IPv4 addresses an IPv6 address reaches, each with the form's name."""
    if ip.ipv4_mapped is not None:
        return ((ip.ipv4_mapped, "IPv4-mapped"),)
    if ip in _NAT64:
        return ((ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"),)
    if ip.sixtofour is not None:
        return ((ip.sixtofour, "6to4"),)
    if ip.teredo is not None:
        server, client = ip.teredo
        return ((server, "Teredo server"), (client, "Teredo client"))
    if ip in _IPV4_COMPATIBLE:  # :: and ::1 are refused before this is asked
        return ((ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "IPv4-compatible"),)
    return ()


def _allowed(ip: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(ip.version == n.version and ip in n for n in networks)


def address_refusal(address: str, *, networks: tuple[IPNetwork, ...] = ()) -> str | None:
    """Why copyseal may not connect to ``address``, or None if it may.

    Args:
        address: An IPv4 or IPv6 address (an IPv6 zone ``%eth0`` is ignored).
        networks: Networks allowed although not global (``--allow-network``).
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if _allowed(ip, networks):
        return None
    if isinstance(ip, ipaddress.IPv4Address):
        return _v4_refusal(ip)
    for nets, name in _V6_REFUSED:
        if any(ip in n for n in nets):
            return f"{ip} is {name}"
    embedded = _embedded_v4(ip)
    if embedded:
        for v4, form in embedded:
            if not _allowed(v4, networks) and (why := _v4_refusal(v4)) is not None:
                return f"{ip} is {form} for {why}"
        return None
    if ip not in _V6_GLOBAL_UNICAST:
        return f"{ip} is outside the global unicast space 2000::/3 (RFC 4291)"
    if ip in _V6_IETF and not any(ip in n for n in _V6_IETF_GLOBAL):
        return f"{ip} is an IETF protocol assignment (RFC 2928)"
    if not ip.is_global:
        return f"{ip} is not globally reachable (IANA special-purpose registry)"
    return None


def _v4_refusal(ip: ipaddress.IPv4Address) -> str | None:
    for nets, name in _V4_REFUSED:
        if any(ip in n for n in nets):
            return f"{ip} is {name}"
    if not ip.is_global:
        return f"{ip} is not globally reachable (IANA special-purpose registry)"
    return None
