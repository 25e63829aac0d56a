"""The network policy of every request copyseal makes.

:class:`AddressPolicy` says which URLs and addresses may be fetched: global unicast
addresses only (the IANA special-purpose registries are refused, and IPv6 forms that embed
an IPv4 address are judged by that address), unless ``--allow-private`` or
``--allow-network CIDR`` / ``crawl.allow_networks`` allow more. It resolves each host name
once and pins the answers, so what is checked is what is connected to.

The crawl's Scrapy fetches use it through a downloader middleware and a resolver
(:mod:`copyseal.crawl`); the browsers (render mode and evidence capture) through an
:class:`EgressProxy` that copyseal starts on 127.0.0.1 for them.
"""

from __future__ import annotations

from copyseal.netpolicy._policy import AddressPolicy, Pinned, Refusal, Resolver, system_resolver
from copyseal.netpolicy._proxy import (
    PROXY_ERROR_HEADER,
    REFUSED_HEADER,
    EgressProxy,
    ProxyRefusal,
)
from copyseal.netpolicy._ranges import IPNetwork, address_refusal, parse_networks

__all__ = [
    "PROXY_ERROR_HEADER",
    "REFUSED_HEADER",
    "AddressPolicy",
    "EgressProxy",
    "IPNetwork",
    "Pinned",
    "ProxyRefusal",
    "Refusal",
    "Resolver",
    "address_refusal",
    "parse_networks",
    "system_resolver",
]
