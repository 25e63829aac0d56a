"""Network facts of a capture: DNS answers, the server, the redirect chain and TLS.

The browser's own view (the connection it actually used: server address, TLS protocol,
cipher, certificate, the chain from DevTools) comes first. Python's resolver and ``ssl``
add what a court expert may ask about: what DNS answered at capture time, and whether the
certificate chains to the system's trust store. Those are separate look-ups and the facts
say so.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

__all__ = ["dns_answers", "probe_tls", "redirect_chain", "tls_facts"]


def default_port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


async def dns_answers(url: str, *, timeout: float = 5.0) -> dict[str, Any]:
    """Resolve the URL's host with ``socket.getaddrinfo`` now and record the answers."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = default_port(url)
    facts: dict[str, Any] = {
        "host": host,
        "port": port,
        "resolver": "socket.getaddrinfo (system resolver, at capture time)",
        "resolved_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    try:
        ipaddress.ip_address(host)
        facts["ip_literal"] = True
    except ValueError:
        facts["ip_literal"] = False
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=timeout
        )
    except (OSError, TimeoutError) as e:
        facts["answers"] = []
        facts["error"] = f"{e.__class__.__name__}: {e}"
        return facts
    answers: list[dict[str, Any]] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        item = {"family": "IPv6" if family == socket.AF_INET6 else "IPv4", "address": sockaddr[0]}
        if item not in answers:
            answers.append(item)
    facts["answers"] = answers
    return facts


def redirect_chain(hops: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The navigation's hops in order: url, status, reason, location and server address."""
    return [
        {
            "url": h["url"],
            "status": h["status"],
            "reason": h.get("reason", ""),
            "location": h.get("location"),
            "server_ip": h.get("server_ip"),
            "server_port": h.get("server_port"),
        }
        for h in hops
    ]


def tls_facts(
    url: str,
    *,
    playwright_details: dict[str, Any] | None,
    devtools_response: dict[str, Any] | None,
    chain_pem: Sequence[str],
    ignore_https_errors: bool,
) -> dict[str, Any]:
    """TLS of the final document's connection as the browser saw it."""
    if urlsplit(url).scheme != "https":
        return {"used": False, "reason": "the page was served over plain HTTP: there is no TLS"}
    dev = dict((devtools_response or {}).get("securityDetails") or {})
    pw = playwright_details or {}
    facts: dict[str, Any] = {
        "used": True,
        "protocol": pw.get("protocol") or dev.get("protocol"),
        "cipher": dev.get("cipher"),
        "key_exchange": dev.get("keyExchange") or None,
        "key_exchange_group": dev.get("keyExchangeGroup"),
        "mac": dev.get("mac"),
        "subject": pw.get("subjectName") or dev.get("subjectName"),
        "issuer": pw.get("issuer") or dev.get("issuer"),
        "san": dev.get("sanList"),
        "valid_from": _epoch_iso(_first(pw.get("validFrom"), dev.get("validFrom"))),
        "valid_to": _epoch_iso(_first(pw.get("validTo"), dev.get("validTo"))),
        "certificate_transparency": dev.get("certificateTransparencyCompliance"),
        "signed_certificate_timestamps": len(dev.get("signedCertificateTimestampList") or []),
        "browser_security_state": (devtools_response or {}).get("securityState"),
        "certificate_errors_ignored": ignore_https_errors,
        "chain_pem": list(chain_pem),
        "chain_source": "DevTools Network.getCertificate (the browser's connection)"
        if chain_pem
        else None,
    }
    return facts


def probe_tls(host: str, ip: str, port: int, *, timeout: float = 5.0) -> dict[str, Any]:
    """A separate TLS handshake with Python's ``ssl``: trust by the system store, and the leaf.

    Connects to the address the browser used (``ip``) with SNI ``host``. Used to say whether
    the certificate chains to the system's trust roots, and as the source of the leaf
    certificate when the browser cannot give the chain.
    """
    facts: dict[str, Any] = {
        "note": "separate connection made by copyseal with Python ssl after the page load",
        "address": f"{ip}:{port}",
        "server_name": host,
        "openssl": ssl.OPENSSL_VERSION,
    }
    verify = ssl.create_default_context()
    try:
        with (
            socket.create_connection((ip, port), timeout=timeout) as raw,
            verify.wrap_socket(raw, server_hostname=host) as tls,
        ):
            facts["trusted_by_system_store"] = True
            facts["protocol"] = tls.version()
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError as e:
        facts["trusted_by_system_store"] = False
        facts["verify_error"] = e.verify_message or str(e)
        der = None
    except (OSError, ssl.SSLError) as e:
        facts["error"] = f"{e.__class__.__name__}: {e}"
        return facts
    if der is None:
        # Not trusted: shake hands again without verification, to keep the leaf.
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE
        try:
            with (
                socket.create_connection((ip, port), timeout=timeout) as raw,
                insecure.wrap_socket(raw, server_hostname=host) as tls,
            ):
                facts["protocol"] = tls.version()
                der = tls.getpeercert(binary_form=True)
        except (OSError, ssl.SSLError) as e:
            facts["error"] = f"{e.__class__.__name__}: {e}"
    if der:
        facts["leaf_pem"] = ssl.DER_cert_to_PEM_cert(der)
    return facts


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _epoch_iso(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC).isoformat().replace("+00:00", "Z")
    except (TypeError, ValueError, OverflowError):
        return None
