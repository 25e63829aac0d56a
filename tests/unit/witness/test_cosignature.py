"""Ed25519 ``cosignature/v1`` lines (C2SP tlog-cosignature), checked byte by byte."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nacl.signing import SigningKey

from copyseal.errors import VerificationError
from copyseal.ledger.checkpoint import Checkpoint
from copyseal.ledger.note import NoteVerifier, open_note, parse_note
from copyseal.witness.cosignature import (
    ALG_COSIGNATURE_V1,
    Cosigner,
    add_signature_lines,
    cosigned_message,
    open_cosignatures,
    parse_cosignature_vkey,
    verify_witnesses,
)

from .conftest import ORIGIN, SIGNER

W1 = Cosigner(name="witness.test/w1", signing_key=SigningKey(b"\x51" * 32))
W2 = Cosigner(name="witness.test/w2", signing_key=SigningKey(b"\x52" * 32))
W3 = Cosigner(name="witness.test/w3", signing_key=SigningKey(b"\x53" * 32))
CHECKPOINT = Checkpoint(origin=ORIGIN, size=7, root=hashlib.sha256(b"root").digest())
T = 1_796_461_200


def _cosigned(*witnesses: Cosigner, timestamp: int = T) -> str:
    note = CHECKPOINT.sign(SIGNER)
    text = parse_note(note).text
    return add_signature_lines(note, [w.cosign(text, timestamp=timestamp) for w in witnesses])


def test_the_vkey_and_key_id_follow_the_spec() -> None:
    public = bytes(SigningKey(b"\x51" * 32).verify_key)
    digest = hashlib.sha256(b"witness.test/w1\n\x04" + public).digest()
    expected = (
        "witness.test/w1+" + digest[:4].hex() + "+" + base64.b64encode(b"\x04" + public).decode()
    )
    assert W1.vkey == expected
    assert parse_cosignature_vkey(W1.vkey) == W1.verifier
    assert ALG_COSIGNATURE_V1 == 0x04


def test_a_cosignature_line_is_key_id_timestamp_and_an_ed25519_signature() -> None:
    note = _cosigned(W1)
    line = note.splitlines()[-1]
    assert line.startswith("\u2014 witness.test/w1 ")
    raw = base64.b64decode(line.split(" ")[-1])
    assert len(raw) == 4 + 8 + 64
    assert int.from_bytes(raw[:4], "big") == W1.verifier.key_id
    assert int.from_bytes(raw[4:12], "big") == T
    message = b"cosignature/v1\ntime %d\n" % T + CHECKPOINT.format().encode()
    assert cosigned_message(CHECKPOINT.format(), T) == message
    # OpenSSL's Ed25519 (through ``cryptography``), not the PyNaCl that signed it.
    Ed25519PublicKey.from_public_bytes(W1.verifier.public_key).verify(raw[12:], message)


def test_cosignatures_are_found_verified_and_timed() -> None:
    note = _cosigned(W1, W2)
    found = open_cosignatures(note, [W1.verifier, W2.verifier])
    assert [c.name for c in found] == ["witness.test/w1", "witness.test/w2"]
    assert found[0].time == datetime.fromtimestamp(T, UTC)
    # The log's own signature is still there and still verifies; the cosignatures are
    # unknown keys to a note verifier (type 0x04, not 0x01), so they are set aside.
    opened = open_note(note, [SIGNER.verifier])
    assert len(opened.signatures) == 1 and len(opened.unverified) == 2


def test_a_cosignature_key_is_not_a_note_key() -> None:
    """The same key under type 0x01 has another key ID: a cosignature never passes as a
    log signature, and a log signature never as a cosignature."""
    as_note_key = NoteVerifier(
        name=W1.name, key_id=W1.verifier.key_id, public_key=W1.verifier.public_key
    )
    with pytest.raises(VerificationError):
        open_note(_cosigned(W1), [as_note_key])  # the message signed is not the note text
    assert open_cosignatures(CHECKPOINT.sign(SIGNER), [W1.verifier]) == ()


def test_k_of_n() -> None:
    keys = [W1.verifier, W2.verifier, W3.verifier]
    note = _cosigned(W1, W3)
    assert len(verify_witnesses(note, keys, min_witnesses=2)) == 2
    with pytest.raises(VerificationError, match="cosigned by 2 of the given witnesses, 3"):
        verify_witnesses(note, keys, min_witnesses=3)
    with pytest.raises(VerificationError, match="only 1 witness keys given"):
        verify_witnesses(note, [W1.verifier], min_witnesses=2)
    # One key under two names is one witness.
    alias = Cosigner(name="witness.test/alias", signing_key=SigningKey(b"\x51" * 32))
    doubled = add_signature_lines(note, [alias.cosign(CHECKPOINT.format(), timestamp=T)])
    with pytest.raises(VerificationError):
        verify_witnesses(doubled, [W1.verifier, alias.verifier], min_witnesses=2)
    assert verify_witnesses(note, keys, min_witnesses=0) is not None


def test_a_bad_line_of_a_known_witness_rejects_the_note() -> None:
    note = _cosigned(W1).encode()
    log_line = CHECKPOINT.sign(SIGNER).encode().rsplit(b"\n\n", 1)[1]
    start = note.index(log_line)
    ignored = range(start, start + len(log_line) - 1)  # the log's line is not a witness's
    for i in range(len(note)):
        if i in ignored:
            continue
        changed = bytearray(note)
        changed[i] ^= 0x01
        try:
            found = open_cosignatures(bytes(changed), [W1.verifier])
        except VerificationError:
            continue
        assert found == (), f"byte {i} flipped, cosignature still valid"


def test_a_cosignature_is_over_the_whole_text_and_time() -> None:
    note = _cosigned(W1)
    sig = parse_note(note).signatures[-1]
    with pytest.raises(VerificationError, match="invalid cosignature"):
        W1.verifier.verify(CHECKPOINT.format() + "extension\n", sig)
    later = W1.cosign(CHECKPOINT.format(), timestamp=T + 1)
    assert later.signature[8:] != sig.signature[8:]  # the time is signed too
    assert W1.cosign(CHECKPOINT.format(), timestamp=T) == sig  # Ed25519 is deterministic


def test_a_published_witness_vkey_parses() -> None:
    """A public witness's Ed25519 cosignature vkey, as its operator published it (quoted in
    the tests of github.com/transparency-dev/formats, note/note_verifier_test.go): the
    key ID its software derived is the one derived here."""
    vkey = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
    witness = parse_cosignature_vkey(vkey)
    assert (witness.name, witness.key_id, witness.vkey) == ("remora.n621.de", 0xDA77ADE7, vkey)


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        "witness.test/w1",
        SIGNER.vkey,  # an Ed25519 note key (type 0x01)
        W1.vkey.replace("+", "+0", 1),
        W1.vkey[:-2] + "AA",
    ],
)
def test_malformed_vkeys(vkey: str) -> None:
    with pytest.raises(VerificationError):
        parse_cosignature_vkey(vkey)
