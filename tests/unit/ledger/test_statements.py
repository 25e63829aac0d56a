"""Canonical JSON statements: pinned bytes, determinism, refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copyseal.errors import LedgerError
from copyseal.ledger import statements as s
from copyseal.ledger._merkle import leaf_hash

WHEN = datetime(2026, 11, 25, 9, 30, 0, tzinfo=UTC)
SHA = "ab" * 32


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert s.canonical_json({"b": 1, "a": "é", "c": [True, None]}) == (
        b'{"a":"\xc3\xa9","b":1,"c":[true,null]}'
    )


def test_work_registration_bytes_are_pinned() -> None:
    data = s.work_registration(
        work_id="w_0123",
        owner="Ana Ñúñez",
        title="Sunset",
        original_sha256=SHA,
        fingerprints_digest="cd" * 32,
        time=WHEN,
    )
    assert (
        data
        == (
            '{"fingerprints_digest":"' + "cd" * 32 + '","original_sha256":"' + SHA + '",'
            '"owner":"Ana Ñúñez","time":"2026-11-25T09:30:00Z","title":"Sunset",'
            '"type":"work-registration","work_id":"w_0123"}'
        ).encode()
    )
    # Pinned leaf hash: any change in the canonical form changes every receipt.
    assert leaf_hash(data).hex() == (
        "6767540eae5818582fba5f51b8ffcc134baeef1e01aa217c319799709164d05a"
    )
    assert json.loads(data)["type"] == s.WORK_REGISTRATION


def test_work_registration_rights_digest_is_additive() -> None:
    fields: dict[str, Any] = {
        "work_id": "w_0123",
        "owner": "Ana Ñúñez",
        "title": "Sunset",
        "original_sha256": SHA,
        "fingerprints_digest": "cd" * 32,
        "time": WHEN,
    }
    # Without the digest the bytes are the pinned ones above (old statements stay valid).
    assert s.work_registration(**fields) == s.work_registration(**fields, rights_sha256=None)
    data = s.work_registration(**fields, rights_sha256="ef" * 32)
    assert s.load_statement(data)["rights_sha256"] == "ef" * 32
    assert leaf_hash(data) != leaf_hash(s.work_registration(**fields))
    with pytest.raises(LedgerError, match="rights_sha256 must be 64 lowercase hex"):
        s.work_registration(**fields, rights_sha256="x")


def test_times_are_utc_with_z() -> None:
    paris = timezone(timedelta(hours=1))
    assert s.format_time(datetime(2026, 1, 1, 10, 0, tzinfo=paris)) == "2026-01-01T09:00:00Z"
    assert (
        s.format_time(datetime(2026, 1, 1, 0, 0, 0, 5, tzinfo=UTC)) == "2026-01-01T00:00:00.000005Z"
    )
    with pytest.raises(LedgerError, match="timezone-aware"):
        s.format_time(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ({"x": 1.5}, "float"),
        ({"x": float("nan")}, "float"),
        ({"x": [float("inf")]}, "float"),
        ({"x": {1: "a"}}, "non-string key"),
        ({"x": "\ud800"}, "not valid Unicode"),
        ({"x": b"bytes"}, "unsupported type bytes"),
    ],
)
def test_values_without_a_canonical_form_are_refused(value: dict[str, Any], match: str) -> None:
    with pytest.raises(LedgerError, match=match):
        s.canonical_json(value)


def test_builders_are_deterministic_and_typed() -> None:
    review = s.review_decision(
        finding_id="f1", decision="confirmed", reviewer="rev@example.com", time=WHEN
    )
    assert review == s.review_decision(
        finding_id="f1", decision="confirmed", reviewer="rev@example.com", time=WHEN
    )
    parsed = s.load_statement(review)
    assert parsed["type"] == s.REVIEW_DECISION
    assert "reason" not in parsed and "evidence_leaf" not in parsed  # None fields left out
    assert (
        s.load_statement(s.export(case_id="c1", package_sha256=SHA, recipient="court", time=WHEN))[
            "type"
        ]
        == s.EXPORT
    )
    lic = s.licence(work_id="w", licensee="L", terms="web use", time=WHEN, valid_until=WHEN)
    assert s.load_statement(lic)["valid_until"] == "2026-11-25T09:30:00Z"
    with pytest.raises(LedgerError, match="unknown review decision 'maybe'"):
        s.review_decision(finding_id="f", decision="maybe", reviewer="r", time=WHEN)
    with pytest.raises(LedgerError, match="original_sha256 must be 64 lowercase hex"):
        s.work_registration(
            work_id="w",
            owner="o",
            title="t",
            original_sha256="AB" * 32,
            fingerprints_digest=SHA,
            time=WHEN,
        )
    with pytest.raises(LedgerError, match="no other 'type'"):
        s.statement("x", type="y")


def test_evidence_bundle_leaf_is_the_manifest_verbatim() -> None:
    manifest = b'{ "z": 1,\n  "a": "not canonical on purpose" }\n'
    assert s.evidence_bundle(manifest) is manifest
    with pytest.raises(LedgerError, match="must be UTF-8 JSON"):
        s.evidence_bundle(b"\xff not json")
    with pytest.raises(LedgerError, match="must be a JSON object"):
        s.evidence_bundle(b"[1, 2]")


def test_load_statement_refuses_non_objects() -> None:
    with pytest.raises(LedgerError, match="not UTF-8 JSON"):
        s.load_statement(b"{")
    with pytest.raises(LedgerError, match="JSON object with a string 'type'"):
        s.load_statement(b'{"type": 3}')


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(), _json, max_size=5))
def test_canonical_json_is_a_fixed_point(value: dict[str, Any]) -> None:
    data = s.canonical_json(value)
    assert s.canonical_json(json.loads(data)) == data
    assert json.loads(data) == value
