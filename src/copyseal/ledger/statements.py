"""The statements copyseal logs: canonical JSON objects with a ``type`` field.

Each builder returns the exact leaf bytes to append, so the same facts always give the
same leaf hash. Canonical form: UTF-8, keys sorted, no insignificant whitespace,
non-ASCII characters as themselves (``ensure_ascii=False``), and no floats at all (their
text form is not canonical across implementations; use integers or strings). Times are
RFC 3339 UTC with a ``Z`` suffix.

The one exception is :func:`evidence_bundle`: its leaf data is the bundle's
``manifest.json`` byte for byte, so a bundle can be checked against its receipt without
re-serialising anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from copyseal import _json
from copyseal.errors import LedgerError

__all__ = [
    "CONTINUED_USE",
    "EVIDENCE_BUNDLE",
    "EXPORT",
    "LICENCE",
    "LICENCE_REVOCATION",
    "NOTICE_SENT",
    "REVIEW_DECISION",
    "VISIT_RESULTS",
    "WORK_REGISTRATION",
    "canonical_json",
    "continued_use",
    "evidence_bundle",
    "export",
    "format_time",
    "licence",
    "licence_revocation",
    "load_statement",
    "notice_sent",
    "review_decision",
    "statement",
    "work_registration",
]

WORK_REGISTRATION: Final = "work-registration"
CONTINUED_USE: Final = "continued-use"
EVIDENCE_BUNDLE: Final = "evidence-bundle"
REVIEW_DECISION: Final = "review-decision"
EXPORT: Final = "export"
LICENCE: Final = "licence"
LICENCE_REVOCATION: Final = "licence-revocation"
NOTICE_SENT: Final = "notice-sent"

_DECISIONS = frozenset({"confirmed", "rejected", "licensed", "dismissed", "needs-more-info"})


def _check(value: Any, path: str) -> None:
    """Reject what has no canonical JSON form: floats, non-string keys, lone surrogates."""
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise LedgerError(f"statement field {path} is not valid Unicode") from e
        return
    if isinstance(value, float):
        raise LedgerError(f"statement field {path} is a float; use an integer or a string")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise LedgerError(f"statement field {path} has a non-string key {key!r}")
            _check(key, path)
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    raise LedgerError(f"statement field {path} has unsupported type {type(value).__name__}")


def canonical_json(obj: Mapping[str, Any]) -> bytes:
    """Canonical UTF-8 JSON of ``obj`` (sorted keys, compact, no floats)."""
    _check(obj, "$")
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def format_time(when: datetime) -> str:
    """RFC 3339 in UTC with ``Z`` (microseconds only when non-zero); naive times refused."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise LedgerError("statement times must be timezone-aware")
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def statement(type_: str, /, **fields: Any) -> bytes:
    """A canonical statement ``{"type": type_, **fields}``; ``datetime`` values become
    RFC 3339 UTC strings and ``None`` values are left out."""
    if not type_ or "type" in fields:
        raise LedgerError("a statement needs a non-empty type and no other 'type' field")
    body: dict[str, Any] = {"type": type_}
    for key, value in fields.items():
        if value is None:
            continue
        body[key] = format_time(value) if isinstance(value, datetime) else value
    return canonical_json(body)


def _hex_digest(value: str, name: str) -> str:
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise LedgerError(f"{name} must be 64 lowercase hex digits (a SHA-256)")
    return value


def work_registration(
    *,
    work_id: str,
    owner: str,
    title: str,
    original_sha256: str,
    fingerprints_digest: str,
    time: datetime,
    rights_sha256: str | None = None,
) -> bytes:
    """A work's registration: who owns it, its title, the SHA-256 of the original file and
    the SHA-256 digest of its fingerprints, at ``time``; ``rights_sha256`` is the digest of
    the original's rights metadata as read at registration (left out when it was not
    read, so statements written before it existed keep their bytes)."""
    return statement(
        WORK_REGISTRATION,
        work_id=work_id,
        owner=owner,
        title=title,
        original_sha256=_hex_digest(original_sha256, "original_sha256"),
        fingerprints_digest=_hex_digest(fingerprints_digest, "fingerprints_digest"),
        time=time,
        rights_sha256=None
        if rights_sha256 is None
        else _hex_digest(rights_sha256, "rights_sha256"),
    )


def evidence_bundle(manifest_json: bytes) -> bytes:
    """The leaf data of an evidence bundle: its ``manifest.json`` bytes, verbatim.

    Only checks that the bytes are a UTF-8 JSON object; they are never re-serialised.
    """
    try:
        parsed = _json.loads(manifest_json.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise LedgerError("an evidence bundle manifest must be UTF-8 JSON") from e
    if not isinstance(parsed, dict):
        raise LedgerError("an evidence bundle manifest must be a JSON object")
    return manifest_json


def review_decision(
    *,
    finding_id: str,
    decision: str,
    reviewer: str,
    time: datetime,
    evidence_leaf: str | None = None,
    reason: str | None = None,
    licence: str | None = None,
) -> bytes:
    """A reviewer's decision on a finding (``confirmed``, ``rejected``, ``licensed``,
    ``dismissed`` or ``needs-more-info``), optionally naming the evidence bundle's leaf hash
    (hex) and, for ``licensed``, the licence (its id in the licence registry)."""
    if decision not in _DECISIONS:
        raise LedgerError(f"unknown review decision {decision!r}; one of {sorted(_DECISIONS)}")
    return statement(
        REVIEW_DECISION,
        finding_id=finding_id,
        decision=decision,
        reviewer=reviewer,
        time=time,
        evidence_leaf=None
        if evidence_leaf is None
        else _hex_digest(evidence_leaf, "evidence_leaf"),
        reason=reason,
        licence=licence,
    )


def export(*, case_id: str, package_sha256: str, recipient: str, time: datetime) -> bytes:
    """A case package exported to ``recipient``: the SHA-256 of the package file."""
    return statement(
        EXPORT,
        case_id=case_id,
        package_sha256=_hex_digest(package_sha256, "package_sha256"),
        recipient=recipient,
        time=time,
    )


def licence(
    *,
    work_id: str,
    licensee: str,
    time: datetime,
    terms: str | None = None,
    valid_until: datetime | None = None,
    licence_id: str | None = None,
    domains: Sequence[str] | None = None,
    url_patterns: Sequence[str] | None = None,
    valid_from: datetime | None = None,
    territory: str | None = None,
    terms_sha256: str | None = None,
    source: str | None = None,
    buyer: str | None = None,
    tx_hash: str | None = None,
    chain_id: int | None = None,
    log_index: int | None = None,
) -> bytes:
    """A licence granted on a work (so later copies by the licensee are not findings).

    The licence registry (:mod:`copyseal.licences`) logs the licence's facts: its id,
    where it applies (``domains``, ``url_patterns``), when (``valid_from``,
    ``valid_until``), the SHA-256 of its terms rather than their text, its ``source``
    (``grant`` or ``market``) and, for a sale on the market contract, the sale's event log
    (``buyer``, ``tx_hash``, ``chain_id``, ``log_index``).
    """
    return statement(
        LICENCE,
        licence_id=licence_id,
        work_id=work_id,
        licensee=licensee,
        domains=None if domains is None else list(domains),
        url_patterns=None if url_patterns is None else list(url_patterns),
        valid_from=valid_from,
        valid_until=valid_until,
        territory=territory,
        terms=terms,
        terms_sha256=None if terms_sha256 is None else _hex_digest(terms_sha256, "terms_sha256"),
        source=source,
        buyer=buyer,
        tx_hash=tx_hash,
        chain_id=chain_id,
        log_index=log_index,
        time=time,
    )


def licence_revocation(*, licence_id: str, reason: str, time: datetime) -> bytes:
    """A licence revoked at ``time``: uses after it are no longer covered by it."""
    return statement(LICENCE_REVOCATION, licence_id=licence_id, reason=reason, time=time)


def notice_sent(
    *,
    case_id: str,
    notice_id: str,
    kind: str,
    notice_sha256: str,
    sent_to: str,
    sent_at: datetime,
    time: datetime,
) -> bytes:
    """A takedown notice of a case sent to ``sent_to`` at ``sent_at``: the SHA-256 of the
    notice file as written (``copyseal cases notice-sent``), logged at ``time``."""
    return statement(
        NOTICE_SENT,
        case_id=case_id,
        notice_id=notice_id,
        kind=kind,
        notice_sha256=_hex_digest(notice_sha256, "notice_sha256"),
        sent_to=sent_to,
        sent_at=sent_at,
        time=time,
    )


#: What a re-visit found (:mod:`copyseal.revisit` documents each result).
VISIT_RESULTS: Final = frozenset({"present", "changed", "moved", "removed", "page-gone", "blocked"})


def continued_use(
    *,
    match_id: int,
    work_id: str,
    page_url: str,
    result: str,
    bundle_id: str,
    manifest_sha256: str,
    time: datetime,
    similarity: str | None = None,
    found_page_url: str | None = None,
    found_image_url: str | None = None,
    reason: str | None = None,
) -> bytes:
    """A re-visit of a matched page (``copyseal revisit``): what it found (``result``, one
    of :data:`VISIT_RESULTS`), the bundle sealing this visit (id and the SHA-256 of its
    ``manifest.json``), where the work was seen, and for ``present``/``changed`` the
    matched region's similarity with the first capture as a decimal string (``"0.9731"``;
    statements hold no floats)."""
    if result not in VISIT_RESULTS:
        raise LedgerError(f"unknown visit result {result!r}; one of {sorted(VISIT_RESULTS)}")
    return statement(
        CONTINUED_USE,
        match_id=match_id,
        work_id=work_id,
        page_url=page_url,
        result=result,
        bundle_id=bundle_id,
        manifest_sha256=_hex_digest(manifest_sha256, "manifest_sha256"),
        similarity=similarity,
        found_page_url=found_page_url,
        found_image_url=found_image_url,
        reason=reason,
        time=time,
    )


def load_statement(data: bytes) -> dict[str, Any]:
    """Parse a logged statement back to a dict (for display; not for re-hashing).

    Raises:
        LedgerError: the bytes are not a JSON object with a string ``type``.
    """
    try:
        parsed = _json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise LedgerError("leaf data is not UTF-8 JSON") from e
    if not isinstance(parsed, dict) or not isinstance(parsed.get("type", ""), str):
        raise LedgerError("leaf data is not a JSON object with a string 'type'")
    return parsed
