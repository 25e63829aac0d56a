"""The ledger's own anchor: its proof is the log's signed checkpoint note, byte for byte."""

from __future__ import annotations

import pytest

from copyseal.anchors import (
    AnchorContext,
    AnchorError,
    AnchorVerificationError,
    LedgerAnchor,
    stated_checkpoint,
    verify_stated,
)
from copyseal.errors import VerificationError
from copyseal.ledger import Checkpoint, Ledger
from copyseal.ledger.note import NoteSigner

from .conftest import KEY, ORIGIN, OTHER_KEY

SIGNER = NoteSigner(name=ORIGIN, signing_key=KEY)


def test_the_proof_is_the_note_the_store_signed(ledger: Ledger) -> None:
    """Ed25519 signatures are deterministic (RFC 8032 §5.1.6): anchoring a checkpoint again
    yields exactly the note the store keeps and hands out in receipts."""
    anchor = LedgerAnchor.from_context(AnchorContext.for_signer(SIGNER))
    for signed in ledger.checkpoints():
        record = anchor.anchor(signed.checkpoint)
        assert anchor.prove(record) == record.payload == signed.note.encode("utf-8")
        assert record.anchored_at is None  # a signature vouches for no time
    assert anchor.name == ORIGIN and anchor.kind == "ledger"


def test_what_it_proves_is_said_as_the_bundle_check_says_it(ledger: Ledger) -> None:
    signed = ledger.latest_checkpoint()
    verifier = LedgerAnchor.from_context(AnchorContext(vkey=ledger.vkey()))
    proven = verifier.verify(signed.note.encode(), signed.checkpoint)
    assert proven.detail == f"{ORIGIN} size 8, signed"
    assert (proven.time, proven.block) == (None, None)


def test_a_wrong_key_says_why(ledger: Ledger) -> None:
    stranger = NoteSigner(name=ORIGIN, signing_key=OTHER_KEY)
    anchor = LedgerAnchor.from_context(AnchorContext(vkey=stranger.vkey))
    signed = ledger.latest_checkpoint()
    with pytest.raises(AnchorVerificationError, match="no verified signature from a known key"):
        anchor.verify(signed.note.encode(), signed.checkpoint)


def test_another_checkpoint_is_named(ledger: Ledger) -> None:
    older, newer = ledger.checkpoints()
    anchor = LedgerAnchor.from_context(AnchorContext(vkey=ledger.vkey()))
    with pytest.raises(AnchorVerificationError, match=f"signed checkpoint is {ORIGIN} size 8"):
        anchor.verify(newer.note.encode(), older.checkpoint)


def test_the_origin_may_differ_from_the_key_name_when_asked(ledger: Ledger) -> None:
    """C2SP recommends a log's key name match its origin; a verifier may expect another."""
    signed = ledger.latest_checkpoint()
    expecting = LedgerAnchor.from_context(
        AnchorContext(vkey=ledger.vkey(), origin="copyseal.test/other")
    )
    with pytest.raises(VerificationError, match=r"expected 'copyseal\.test/other'"):
        expecting.verify(signed.note.encode(), signed.checkpoint)


def test_anchoring_checks_the_log_and_the_key(ledger: Ledger) -> None:
    anchor = LedgerAnchor.from_context(AnchorContext.for_signer(SIGNER))
    root = ledger.latest_checkpoint().root
    with pytest.raises(AnchorError, match="given to the anchor of"):
        anchor.anchor(Checkpoint(origin="copyseal.test/elsewhere", size=8, root=root))
    stranger = NoteSigner(name=ORIGIN, signing_key=OTHER_KEY)
    with pytest.raises(AnchorError, match="signer and verifier key differ"):
        LedgerAnchor.from_context(AnchorContext(vkey=SIGNER.vkey, signer=stranger))
    with pytest.raises(VerificationError, match="malformed verifier key"):
        LedgerAnchor.from_context(AnchorContext(vkey="not a key"))


def test_stated_checkpoint_reads_a_note_without_trusting_it(ledger: Ledger) -> None:
    signed = ledger.latest_checkpoint()
    assert stated_checkpoint(signed.note) == signed.checkpoint
    forged = signed.note.replace("\n8\n", "\n9\n", 1)
    assert stated_checkpoint(forged).size == 9  # parsed, not verified
    with pytest.raises(VerificationError):
        LedgerAnchor.from_context(AnchorContext(vkey=ledger.vkey())).verify(
            forged.encode(), stated_checkpoint(forged)
        )
    with pytest.raises(VerificationError, match="malformed"):
        stated_checkpoint("no blank line\n")


def test_verify_stated_lets_the_anchor_judge_a_note_before_its_text(ledger: Ledger) -> None:
    anchor = LedgerAnchor.from_context(AnchorContext(vkey=ledger.vkey()))
    signed = ledger.latest_checkpoint()
    stated, proven = verify_stated(anchor, signed.note)
    assert stated == signed.checkpoint and proven.size == 8
    origin, size, root, rest = signed.note.split("\n", 3)
    unparsable = f"{origin}\n{size}\n{root[:-2]}!=\n{rest}"  # root no longer base64
    with pytest.raises(VerificationError, match="malformed checkpoint: root hash is not base64"):
        stated_checkpoint(unparsable)
    # Re-signed or tampered and malformed: the signature is what fails, as Go's note.Open.
    with pytest.raises(AnchorVerificationError, match="invalid note signature by key"):
        verify_stated(anchor, unparsable)
    stranger = NoteSigner(name=ORIGIN, signing_key=OTHER_KEY)
    with pytest.raises(VerificationError, match="no verified signature"):
        verify_stated(LedgerAnchor.from_context(AnchorContext(vkey=stranger.vkey)), unparsable)
