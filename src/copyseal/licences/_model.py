"""The licence registry's value types: a licence, a classification verdict, the error."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from copyseal.db.schema.licences import Licence
from copyseal.errors import CopysealError
from copyseal.times import iso, utc, utc_or_none

__all__ = ["LicenceError", "LicenceRecord", "Verdict"]


class LicenceError(CopysealError):
    """A licence cannot be granted, revoked, imported or found."""


@dataclass(frozen=True, kw_only=True)
class LicenceRecord:
    """A licence of one work: who may use it, on which sites, when, and on what terms."""

    licence_id: str
    work_id: str
    licensee: str
    domains: tuple[str, ...]
    url_patterns: tuple[str, ...]
    valid_from: datetime
    valid_until: datetime | None
    territory: str | None
    terms_sha256: str | None
    source: str
    created_at: datetime
    buyer: str | None = None
    tx_hash: str | None = None
    chain_id: int | None = None
    log_index: int | None = None
    ledger_index: int | None = None
    revoked_at: datetime | None = None
    revoke_reason: str | None = None

    @classmethod
    def from_row(cls, row: Licence | Any) -> LicenceRecord:
        return cls(
            licence_id=row.licence_id,
            work_id=row.work_id,
            licensee=row.licensee,
            domains=tuple(json.loads(row.domains)),
            url_patterns=tuple(json.loads(row.url_patterns)),
            valid_from=utc(row.valid_from),
            valid_until=utc_or_none(row.valid_until),
            territory=row.territory,
            terms_sha256=row.terms_sha256,
            source=row.source,
            created_at=utc(row.created_at),
            buyer=row.buyer,
            tx_hash=row.tx_hash,
            chain_id=row.chain_id,
            log_index=row.log_index,
            ledger_index=row.ledger_index,
            revoked_at=utc_or_none(row.revoked_at),
            revoke_reason=row.revoke_reason,
        )

    def where(self) -> str:
        """Where the licence applies, for notes and listings (``a.example, *.b.example``)."""
        return ", ".join((*self.domains, *self.url_patterns)) or "no site"

    def to_json(self) -> dict[str, Any]:
        """The licence object of ``copyseal licences grant|list --json``."""
        return {
            "licence_id": self.licence_id,
            "work_id": self.work_id,
            "licensee": self.licensee,
            "domains": list(self.domains),
            "url_patterns": list(self.url_patterns),
            "valid_from": iso(self.valid_from),
            "valid_until": iso(self.valid_until),
            "territory": self.territory,
            "terms_sha256": self.terms_sha256,
            "source": self.source,
            "buyer": self.buyer,
            "tx_hash": self.tx_hash,
            "ledger_index": self.ledger_index,
            "revoked_at": iso(self.revoked_at),
        }


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """Whether a use of a work on a page is licensed: the licence that covers it, or why
    none of the work's licences does (``note``; None when the work has no licence)."""

    licence_id: str | None
    note: str | None = None

    @property
    def licensed(self) -> bool:
        return self.licence_id is not None

    def to_json(self) -> dict[str, Any]:
        return {"licensed": self.licensed, "licence": self.licence_id, "note": self.note}
