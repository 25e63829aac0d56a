"""Licensee claims and payment URIs.

A buyer says which site a licence is for with a *claim*, the canonical JSON
``{"domains": [...], "licensee": NAME}`` (keys sorted, no spaces, UTF-8, domains lower-case,
sorted and without duplicates). ``buy(offer_id, licensee)`` records ``keccak256(claim)`` on
the chain: the chain commits to the claim without publishing it, and whoever has the claim
(the buyer sends it to the author, or publishes it) can show it is the one the buyer paid
for. ``copyseal market sync --claims FILE|DIR`` supplies the claims (a JSON object, a list
of them, or a folder of ``*.json`` files).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from copyseal.market._errors import MarketError

__all__ = ["NO_CLAIM", "canonical_claim", "licensee_hash", "load_claims", "payment_uri"]

#: The licensee of a sale whose buyer made no claim: the offer's terms then say where.
NO_CLAIM = bytes(32)


def canonical_claim(licensee: str, domains: Iterable[str]) -> bytes:
    """The canonical JSON bytes of a claim."""
    name = licensee.strip()
    if not name:
        raise MarketError("a licensee claim needs a licensee name")
    listed = sorted({d.strip().lower().rstrip(".") for d in domains if d.strip()})
    doc = {"domains": listed, "licensee": name}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def licensee_hash(licensee: str, domains: Iterable[str]) -> bytes:
    """``keccak256`` of the canonical claim: the ``licensee`` argument of ``buy``."""
    return bytes(keccak(canonical_claim(licensee, domains)))


def _claims_in(doc: Any, where: Path) -> list[dict[str, Any]]:
    items = doc if isinstance(doc, list) else [doc]
    claims = []
    for item in items:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("licensee"), str)
            or not isinstance(item.get("domains"), list)
            or not all(isinstance(d, str) for d in item["domains"])
        ):
            raise MarketError(f'{where}: a claim is {{"licensee": NAME, "domains": [...]}}')
        claims.append(item)
    return claims


def load_claims(paths: Sequence[Path]) -> dict[bytes, tuple[str, list[str]]]:
    """The claims in ``paths`` (files or folders of ``*.json``), by their hash:
    ``{keccak256: (licensee, domains)}``."""
    found: dict[bytes, tuple[str, list[str]]] = {}
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    for file in files:
        try:
            doc = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise MarketError(f"cannot read claims file {file}: {e}") from None
        for claim in _claims_in(doc, file):
            body = canonical_claim(claim["licensee"], claim["domains"])
            found[bytes(keccak(body))] = (
                str(json.loads(body)["licensee"]),
                list(json.loads(body)["domains"]),
            )
    return found


def payment_uri(
    *, contract: str, chain_id: int, offer_id: int, price_wei: int, licensee: bytes = NO_CLAIM
) -> str:
    """An EIP-681 transaction request for ``buy(offer_id, licensee)`` paying ``price_wei``:
    ``ethereum:<address>@<chain_id>/buy?uint256=<offer_id>&bytes32=<licensee>&value=<wei>``
    (function arguments as ``TYPE=VALUE`` in order, ``value`` the wei sent)."""
    return (
        f"ethereum:{contract}@{chain_id}/buy?uint256={offer_id}"
        f"&bytes32=0x{licensee.hex()}&value={price_wei}"
    )
