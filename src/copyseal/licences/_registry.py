"""Granting, revoking, listing and importing licences: a ledger statement, then a row.

Each grant, market sale and revocation is first appended to the workspace's ledger as a
signed statement (:func:`copyseal.ledger.statements.licence`,
:func:`~copyseal.ledger.statements.licence_revocation`), then stored in ``licences`` with
the statement's index, as review decisions are. The statement holds the licence's facts
and the SHA-256 of its terms; the terms' text stays in the database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from copyseal.db.schema.licences import LICENCES, Licence
from copyseal.db.schema.works import Work
from copyseal.ledger import statements
from copyseal.licences._model import LicenceError, LicenceRecord
from copyseal.licences._rules import normalise_domain, normalise_pattern
from copyseal.times import iso, now, utc
from copyseal.workspace import Workspace

__all__ = ["get", "grant", "import_sale", "instant", "list_licences", "revoke"]

MAX_LICENSEE = 255
MAX_TERRITORY = 64


def instant(value: datetime | date | str | None, *, end: bool = False) -> datetime | None:
    """A licence bound as an aware UTC time.

    A date (or ``YYYY-MM-DD`` text) is its first instant, or with ``end`` the first
    instant of the next day, so ``--until 2027-06-30`` covers all of June 30th (UTC).
    Text may also be an ISO 8601 time; a time without an offset is taken as UTC.

    Raises:
        LicenceError: text that is neither.
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                value = date.fromisoformat(text)
            else:
                value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as e:
            raise LicenceError(f"{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from e
    if isinstance(value, datetime):
        return utc(value)
    start = datetime.combine(value, time(), tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def _places(domains: Iterable[str], url_patterns: Iterable[str]) -> tuple[list[str], list[str]]:
    ds: list[str] = []
    for d in domains:
        n = normalise_domain(d)
        if n not in ds:
            ds.append(n)
    ps: list[str] = []
    for p in url_patterns:
        n = normalise_pattern(p)
        if n not in ps:
            ps.append(n)
    return ds, ps


def _check(
    *,
    licensee: str,
    valid_from: datetime,
    valid_until: datetime | None,
    territory: str | None,
) -> None:
    if not licensee.strip():
        raise LicenceError("a licence needs a licensee (--licensee NAME), not an empty name")
    if len(licensee) > MAX_LICENSEE:
        raise LicenceError(f"licensee {licensee[:40]!r}… is longer than {MAX_LICENSEE} characters")
    if territory is not None and (not territory.strip() or len(territory) > MAX_TERRITORY):
        raise LicenceError(f"territory {territory!r} must be 1-{MAX_TERRITORY} characters")
    if valid_until is not None and valid_until <= valid_from:
        raise LicenceError(
            f"the licence would end ({iso(valid_until)}, --until) before it starts"
            f" ({iso(valid_from)}, --from)"
        )


def _work(ws: Workspace, work_id: str) -> None:
    with ws.engine.connect() as conn:
        row = conn.execute(select(Work.work_id, Work.removed_at).where(Work.work_id == work_id))
        found = row.first()
    if found is None:
        raise LicenceError(f"no work {work_id!r} (see 'copyseal works')")
    if found.removed_at is not None:
        raise LicenceError(f"work {work_id!r} was removed; it cannot be licensed")


def _licence_id(seed: str) -> str:
    return "l" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:20]


def _store(ws: Workspace, record: LicenceRecord, terms: str | None) -> LicenceRecord:
    """Append the licence's statement to the ledger, then insert its row."""
    data = statements.licence(
        licence_id=record.licence_id,
        work_id=record.work_id,
        licensee=record.licensee,
        domains=record.domains,
        url_patterns=record.url_patterns,
        valid_from=record.valid_from,
        valid_until=record.valid_until,
        territory=record.territory,
        terms_sha256=record.terms_sha256,
        source=record.source,
        buyer=record.buyer,
        tx_hash=record.tx_hash,
        chain_id=record.chain_id,
        log_index=record.log_index,
        time=record.created_at,
    )
    (index,) = ws.ledger().append([(statements.LICENCE, data)])
    with ws.engine.begin() as conn:
        conn.execute(
            LICENCES.insert().values(
                licence_id=record.licence_id,
                work_id=record.work_id,
                licensee=record.licensee,
                domains=json.dumps(list(record.domains)),
                url_patterns=json.dumps(list(record.url_patterns)),
                valid_from=record.valid_from,
                valid_until=record.valid_until,
                territory=record.territory,
                terms_sha256=record.terms_sha256,
                terms=terms,
                source=record.source,
                buyer=record.buyer,
                tx_hash=record.tx_hash,
                chain_id=record.chain_id,
                log_index=record.log_index,
                ledger_index=index,
                created_at=record.created_at,
            )
        )
    return replace(record, ledger_index=index)


def grant(
    ws: Workspace,
    work_id: str,
    *,
    licensee: str,
    domains: Sequence[str] = (),
    url_patterns: Sequence[str] = (),
    valid_from: datetime | date | str | None = None,
    valid_until: datetime | date | str | None = None,
    territory: str | None = None,
    terms: str | None = None,
) -> LicenceRecord:
    """Grant ``licensee`` a licence to use ``work_id`` on the pages of ``domains`` or
    matching ``url_patterns`` (see :mod:`copyseal.licences._rules`), from ``valid_from``
    (default: now) until ``valid_until`` (default: indefinitely).

    Raises:
        LicenceError: an unknown or removed work, an empty licensee, neither a domain nor
            a URL pattern, a malformed domain, or an end before the start.
    """
    at = now()
    start = instant(valid_from) or at
    end = instant(valid_until, end=True)
    licensee = licensee.strip()
    _check(licensee=licensee, valid_from=start, valid_until=end, territory=territory)
    ds, ps = _places(domains, url_patterns)
    if not ds and not ps:
        raise LicenceError("a licence needs at least one --domain or --url-pattern")
    _work(ws, work_id)
    terms_sha256 = None if terms is None else hashlib.sha256(terms.encode("utf-8")).hexdigest()
    seed = json.dumps([work_id, licensee, ds, ps, iso(start), iso(end), iso(at)])
    record = LicenceRecord(
        licence_id=_licence_id(seed),
        work_id=work_id,
        licensee=licensee,
        domains=tuple(ds),
        url_patterns=tuple(ps),
        valid_from=start,
        valid_until=end,
        territory=territory.strip() if territory else None,
        terms_sha256=terms_sha256,
        source="grant",
        created_at=at,
    )
    return _store(ws, record, terms)


def import_sale(
    ws: Workspace,
    *,
    work_id: str,
    licensee: str,
    domains: Sequence[str],
    url_patterns: Sequence[str],
    valid_from: datetime,
    valid_until: datetime | None,
    terms_sha256: str | None,
    buyer: str,
    tx_hash: str,
    chain_id: int,
    log_index: int,
) -> LicenceRecord:
    """Record a licence sold on the market contract (``source`` ``market``).

    Idempotent on the sale's event log (``chain_id``, ``tx_hash``, ``log_index``): a sale
    imported before returns the licence stored then. A sale naming no site is recorded
    (it was paid for) but covers no page until a licence with a site is granted.

    Raises:
        LicenceError: an unknown work, an empty licensee, a malformed domain or terms
            digest, or an end before the start.
    """
    tx = tx_hash.strip().lower()
    existing = _sale(ws, chain_id, tx, log_index)
    if existing is not None:
        return existing
    start = utc(valid_from)
    end = None if valid_until is None else utc(valid_until)
    licensee = licensee.strip()
    _check(licensee=licensee, valid_from=start, valid_until=end, territory=None)
    ds, ps = _places(domains, url_patterns)
    if terms_sha256 is not None and (
        len(terms_sha256) != 64 or any(c not in "0123456789abcdef" for c in terms_sha256)
    ):
        raise LicenceError(f"terms digest {terms_sha256!r} is not a SHA-256 (64 hex digits)")
    _work(ws, work_id)
    record = LicenceRecord(
        licence_id=_licence_id(f"market:{chain_id}:{tx}:{log_index}"),
        work_id=work_id,
        licensee=licensee,
        domains=tuple(ds),
        url_patterns=tuple(ps),
        valid_from=start,
        valid_until=end,
        territory=None,
        terms_sha256=terms_sha256,
        source="market",
        created_at=now(),
        buyer=buyer,
        tx_hash=tx,
        chain_id=chain_id,
        log_index=log_index,
    )
    try:
        return _store(ws, record, None)
    except IntegrityError:  # imported meanwhile by another process
        again = _sale(ws, chain_id, tx, log_index)
        if again is None:
            raise
        return again


def _sale(ws: Workspace, chain_id: int, tx_hash: str, log_index: int) -> LicenceRecord | None:
    with ws.engine.connect() as conn:
        row = conn.execute(
            select(Licence).where(
                Licence.chain_id == chain_id,
                Licence.tx_hash == tx_hash,
                Licence.log_index == log_index,
            )
        ).first()
    return None if row is None else LicenceRecord.from_row(row)


def get(ws: Workspace, licence_id: str) -> LicenceRecord:
    """One licence.

    Raises:
        LicenceError: no such licence.
    """
    with ws.engine.connect() as conn:
        row = conn.execute(select(Licence).where(Licence.licence_id == licence_id)).first()
    if row is None:
        raise LicenceError(f"no licence {licence_id!r} (see 'copyseal licences list')")
    return LicenceRecord.from_row(row)


def revoke(ws: Workspace, licence_id: str, *, reason: str) -> LicenceRecord:
    """Revoke a licence now: uses found from now on are no longer covered by it (uses
    already classified keep their decision). Appends a ``licence-revocation`` statement.

    Raises:
        LicenceError: no such licence, it is revoked already, or no reason is given.
    """
    reason = reason.strip()
    if not reason:
        raise LicenceError("say why the licence is revoked (--reason)")
    current = get(ws, licence_id)
    if current.revoked_at is not None:
        raise LicenceError(f"licence {licence_id} was revoked already on {iso(current.revoked_at)}")
    at = now()
    data = statements.licence_revocation(licence_id=licence_id, reason=reason, time=at)
    ws.ledger().append([(statements.LICENCE_REVOCATION, data)])
    with ws.engine.begin() as conn:
        conn.execute(
            update(Licence)
            .where(Licence.licence_id == licence_id)
            .values(revoked_at=at, revoke_reason=reason)
        )
    return get(ws, licence_id)


def list_licences(ws: Workspace, *, work_id: str | None = None) -> list[LicenceRecord]:
    """Every licence (of one work), oldest first."""
    query = select(Licence).order_by(Licence.created_at, Licence.licence_id)
    if work_id is not None:
        query = query.where(Licence.work_id == work_id)
    with ws.engine.connect() as conn:
        return [LicenceRecord.from_row(r) for r in conn.execute(query)]
