"""The market's workspace side: which chain and contract, and the commands' work.

The chain is one of the EVM anchors' (``anchors.evm.NAME``: ``rpc_url``, ``chain_id``,
``key_file``), named by ``market.chain`` (null: the only one configured). The contract is
``market.contract``, or the one ``copyseal market deploy NAME`` deployed, remembered in
``anchor_deployments`` under kind ``market``. On the chain a work is its SHA-256, so anyone
holding the original can check an offer against it. An offer's terms file is kept in the
workspace under ``market/terms/SHA256`` so that ``sync`` can read the domains it names.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from copyseal.config import EvmAnchorSettings
from copyseal.db.schema.anchors import ANCHOR_DEPLOYMENTS as _DEPLOYMENTS
from copyseal.db.schema.licences import LICENCES as _LICENCES
from copyseal.db.schema.works import Work
from copyseal.db.sql import insert_or_ignore
from copyseal.errors import CopysealError
from copyseal.files import publish_bytes
from copyseal.market._chain import MarketChain, Sale, read_key
from copyseal.market._claims import NO_CLAIM, load_claims, payment_uri
from copyseal.market._errors import MarketError
from copyseal.times import iso, now
from copyseal.workspace import Workspace

__all__ = ["deploy", "make_offer", "offers", "sync", "withdraw"]

log = logging.getLogger(__name__)

KIND = "market"
_DAY = 86_400


def _chain_entry(ws: Workspace, name: str | None = None) -> tuple[str, EvmAnchorSettings]:
    chains = ws.settings.anchors.evm
    name = name or ws.settings.market.chain
    if name is None:
        if len(chains) != 1:
            known = ", ".join(sorted(chains)) or "none configured"
            raise MarketError(f"set market.chain to one of the anchors.evm chains ({known})")
        name = next(iter(chains))
    entry = chains.get(name)
    if entry is None:
        known = ", ".join(sorted(chains)) or "none configured"
        raise MarketError(f"no chain anchors.evm.{name} for the market ({known})")
    return name, entry


def _remembered(ws: Workspace, name: str, chain_id: int) -> tuple[str, int] | None:
    with ws.engine.connect() as conn:
        row = conn.execute(
            select(_DEPLOYMENTS.c.contract, _DEPLOYMENTS.c.block_number).where(
                _DEPLOYMENTS.c.kind == KIND,
                _DEPLOYMENTS.c.name == name,
                _DEPLOYMENTS.c.chain_id == chain_id,
            )
        ).first()
    return None if row is None else (str(row.contract), int(row.block_number))


class _Market:
    """The configured market: chain, contract (checked to be ours) and first block."""

    def __init__(self, ws: Workspace) -> None:
        self.name, self.entry = _chain_entry(ws)
        self.chain = MarketChain(rpc_url=self.entry.rpc_url, chain_id=self.entry.chain_id)
        remembered = _remembered(ws, self.name, self.entry.chain_id)
        contract = ws.settings.market.contract
        if contract is None and remembered is None:
            raise MarketError(
                f"the market on anchors.evm.{self.name} has no contract: run"
                f" `copyseal market deploy {self.name}` or set market.contract"
            )
        self.contract = self.chain.address(contract or (remembered[0] if remembered else ""))
        self.from_block = remembered[1] if remembered and remembered[0] == self.contract else 0
        self.chain.check_code(self.contract)

    def signer(self) -> Any:
        return read_key(Path(self.entry.key_file))


def deploy(ws: Workspace, name: str) -> dict[str, Any]:
    """Deploy the market contract on chain ``anchors.evm.NAME`` and remember it.

    Returns:
        ``{"name", "chain_id", "contract", "tx_hash", "block_number"}``.
    """
    name, entry = _chain_entry(ws, name)
    if ws.settings.market.contract is not None:
        raise MarketError(f"market.contract is set ({ws.settings.market.contract}): deployed")
    known = _remembered(ws, name, entry.chain_id)
    if known is not None:
        raise MarketError(
            f"this workspace deployed the market {known[0]} on chain {entry.chain_id} already"
        )
    chain = MarketChain(rpc_url=entry.rpc_url, chain_id=entry.chain_id)
    sent = chain.deploy(read_key(Path(entry.key_file)))
    data = {
        "name": name,
        "chain_id": entry.chain_id,
        "contract": str(sent.contract),
        "tx_hash": sent.tx_hash,
        "block_number": sent.block_number,
    }
    with ws.engine.begin() as conn:
        insert_or_ignore(
            conn,
            _DEPLOYMENTS,
            {"kind": KIND, **data, "deployed_at": now()},
            index_elements=["kind", "name", "chain_id"],
        )
    return data


def _terms_path(ws: Workspace, sha256: str) -> Path:
    return ws.settings.base_dir / "market" / "terms" / sha256


def make_offer(
    ws: Workspace, work_id: str, *, price_wei: int, duration_days: int, terms: bytes
) -> dict[str, Any]:
    """Offer a licence of ``work_id`` for ``duration_days`` at ``price_wei``.

    Returns:
        ``{"offer_id", "work_id", "price_wei", "valid_days", "terms_sha256",
        "payment_uri", "tx_hash"}`` (the URI pays for a sale without a licensee claim:
        the buyer puts the claim's hash in its ``bytes32``).
    """
    if price_wei <= 0 or duration_days <= 0:
        raise MarketError("the price and the duration must be positive")
    with ws.engine.connect() as conn:
        sha = conn.execute(select(Work.sha256).where(Work.work_id == work_id)).scalar()
    if sha is None:
        raise MarketError(f"no work {work_id}")
    terms_sha256 = hashlib.sha256(terms).hexdigest()
    market = _Market(ws)
    publish_bytes(_terms_path(ws, terms_sha256), terms, overwrite=True)
    sent = market.chain.call(
        market.signer(),
        market.contract,
        "offer",
        bytes.fromhex(sha),
        price_wei,
        duration_days * _DAY,
        bytes.fromhex(terms_sha256),
    )
    offer_id = market.chain.offer_made(market.contract, sent)
    return {
        "offer_id": offer_id,
        "work_id": work_id,
        "price_wei": price_wei,
        "valid_days": duration_days,
        "terms_sha256": terms_sha256,
        "payment_uri": payment_uri(
            contract=market.contract,
            chain_id=market.chain.chain_id,
            offer_id=offer_id,
            price_wei=price_wei,
        ),
        "tx_hash": sent.tx_hash,
    }


def withdraw(ws: Workspace, offer_id: int) -> dict[str, Any]:
    """Withdraw offer ``offer_id`` (only its author's key may)."""
    market = _Market(ws)
    sent = market.chain.call(market.signer(), market.contract, "withdraw", offer_id)
    return {"offer_id": offer_id, "tx_hash": sent.tx_hash}


def _works_by_sha(ws: Workspace) -> dict[str, str]:
    with ws.engine.connect() as conn:
        return {sha: wid for wid, sha in conn.execute(select(Work.work_id, Work.sha256))}


def offers(ws: Workspace) -> list[dict[str, Any]]:
    """Every offer on the market contract, with the workspace's work id (null: a work
    this workspace did not register) and its payment URI."""
    market = _Market(ws)
    works = _works_by_sha(ws)
    listed = []
    for row in market.chain.offers(market.contract):
        listed.append(
            {
                "offer_id": row["offer_id"],
                "work_id": works.get(row["work_sha256"]),
                "work_sha256": row["work_sha256"],
                "author": row["author"],
                "price_wei": row["price_wei"],
                "valid_days": _days(row["duration_s"]),
                "terms_sha256": row["terms_sha256"],
                "active": row["active"],
                "payment_uri": payment_uri(
                    contract=market.contract,
                    chain_id=market.chain.chain_id,
                    offer_id=row["offer_id"],
                    price_wei=row["price_wei"],
                ),
            }
        )
    return listed


def _days(seconds: int) -> int | float:
    """Whole days as an integer (as ``market offer`` takes them), else a fraction."""
    return seconds // _DAY if seconds % _DAY == 0 else seconds / _DAY


def terms_domains(terms: bytes) -> list[str]:
    """The domains a terms file names: a JSON object's ``domains`` list (none otherwise)."""
    try:
        doc = json.loads(terms)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return []
    found = doc.get("domains") if isinstance(doc, dict) else None
    if not isinstance(found, list):
        return []
    return [d for d in found if isinstance(d, str) and d.strip()]


def _stamp(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def sync(ws: Workspace, *, claims: Sequence[Path] = ()) -> dict[str, Any]:
    """Import every ``LicenceSold`` event since the deployment into the licence registry
    (:func:`copyseal.licences.import_sale`, idempotent on the event's chain, transaction
    and log index).

    The licence's domains are the buyer's claim's (the preimage of ``licensee``, from
    ``claims``), else the offer's terms' domains; a sale with neither is pending (a
    warning; the next sync with its claim imports it).

    Returns:
        ``{"imported": n, "licences": [...], "pending": [...], "warnings": [...]}``.
    """
    from copyseal.licences import import_sale

    known_claims = load_claims(claims)
    market = _Market(ws)
    works = _works_by_sha(ws)
    offered: Mapping[int, Mapping[str, Any]] = {
        row["offer_id"]: row for row in market.chain.offers(market.contract)
    }
    imported, licences, pending, warnings = 0, [], [], []
    for sale in market.chain.sales(market.contract, from_block=market.from_block):
        where = f"sale {sale.tx_hash}#{sale.log_index} of offer {sale.offer_id}"
        work_id = works.get(sale.work_sha256)
        if work_id is None:
            warnings.append(f"{where}: work {sale.work_sha256} is not registered here")
            continue
        terms_sha256 = str(offered[sale.offer_id]["terms_sha256"])
        with ws.engine.connect() as conn:
            seen = conn.execute(
                select(_LICENCES.c.licence_id).where(
                    _LICENCES.c.chain_id == market.chain.chain_id,
                    _LICENCES.c.tx_hash == sale.tx_hash,
                    _LICENCES.c.log_index == sale.log_index,
                )
            ).first()
        claimed = sale.licensee in known_claims
        licensee, domains = _licensee(ws, sale, known_claims, terms_sha256)
        if seen is None and not domains:
            warnings.append(
                f"{where}: no claim for licensee 0x{sale.licensee.hex()} and the offer's"
                " terms name no domains: pending until its claim is given (--claims)"
            )
            pending.append(_pending(sale, work_id))
            continue
        if seen is None and not claimed and sale.licensee != NO_CLAIM:
            warnings.append(
                f"{where}: no claim for licensee 0x{sale.licensee.hex()}: imported with the"
                " domains of the offer's terms"
            )
        try:
            record = import_sale(
                ws,
                work_id=work_id,
                licensee=licensee,
                domains=domains,
                url_patterns=[],
                valid_from=_stamp(sale.block_time),
                valid_until=_stamp(sale.valid_until),
                terms_sha256=terms_sha256,
                buyer=sale.buyer,
                tx_hash=sale.tx_hash,
                chain_id=market.chain.chain_id,
                log_index=sale.log_index,
            )
        except CopysealError as e:  # a claim the registry refuses stops only its own sale
            warnings.append(f"{where}: not imported: {e}")
            pending.append(_pending(sale, work_id))
            continue
        imported += seen is None
        licences.append(record.to_json())
    for warning in warnings:
        log.warning("market sync: %s", warning)
    return {"imported": imported, "licences": licences, "pending": pending, "warnings": warnings}


def _licensee(
    ws: Workspace,
    sale: Sale,
    known: Mapping[bytes, tuple[str, list[str]]],
    terms_sha256: str,
) -> tuple[str, list[str]]:
    if sale.licensee in known:
        return known[sale.licensee]
    try:
        terms = _terms_path(ws, terms_sha256).read_bytes()
    except OSError:
        terms = b""
    return sale.buyer, terms_domains(terms)


def _pending(sale: Sale, work_id: str) -> dict[str, Any]:
    return {
        "offer_id": sale.offer_id,
        "work_id": work_id,
        "buyer": sale.buyer,
        "licensee": "0x" + sale.licensee.hex(),
        "valid_until": iso(_stamp(sale.valid_until)),
        "tx_hash": sale.tx_hash,
        "log_index": sale.log_index,
    }
