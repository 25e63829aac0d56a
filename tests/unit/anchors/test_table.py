"""The table of anchor kinds and the package's public names."""

from __future__ import annotations

import re

import pytest

import copyseal.anchors
from copyseal.anchors import (
    ANCHORS,
    DEFAULT_KINDS,
    RECEIPT_KIND,
    AnchorContext,
    AnchorError,
    AnchorVerificationError,
    anchor_for,
    configured,
)
from copyseal.errors import CopysealError, VerificationError
from copyseal.ledger.note import NoteSigner

from .conftest import KEY, ORIGIN

SIGNER = NoteSigner(name=ORIGIN, signing_key=KEY)


def test_exported_members() -> None:
    assert copyseal.anchors.__all__ == [
        "ANCHORS",
        "DEFAULT_KINDS",
        "RECEIPT_KIND",
        "Anchor",
        "AnchorContext",
        "AnchorError",
        "AnchorFactory",
        "AnchorRecord",
        "AnchorVerificationError",
        "LedgerAnchor",
        "Proven",
        "anchor_for",
        "configured",
        "stated_checkpoint",
        "verify_stated",
    ]


def test_the_table_holds_real_kinds_keyed_by_their_own_name() -> None:
    assert {"ledger", "rfc3161"} <= set(ANCHORS) <= {"ledger", "evm", "rfc3161", "witness"}
    for kind in ANCHORS:
        assert anchor_for(kind, AnchorContext(vkey=SIGNER.vkey)).kind == kind
    assert RECEIPT_KIND in ANCHORS and DEFAULT_KINDS == (RECEIPT_KIND,)
    with pytest.raises(TypeError):
        ANCHORS["fake"] = ANCHORS["ledger"]  # type: ignore[index]


def test_configured_builds_the_listed_kinds_in_order() -> None:
    anchors = configured(DEFAULT_KINDS, AnchorContext.for_signer(SIGNER))
    assert [a.kind for a in anchors] == list(DEFAULT_KINDS)
    known = re.escape(", ".join(sorted(ANCHORS)))
    assert "rfc3161" in known
    with pytest.raises(AnchorError, match=rf"unknown anchor kind 'nope' \(known: {known}\)"):
        configured(["ledger", "nope"], AnchorContext.for_signer(SIGNER))


def test_errors_belong_to_the_hierarchy() -> None:
    assert issubclass(AnchorError, CopysealError)
    assert issubclass(AnchorVerificationError, VerificationError)
    assert AnchorVerificationError.exit_code == 3
