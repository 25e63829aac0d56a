"""C2SP signed notes: Go's note opens here, ours round-trip, every change is caught."""

from __future__ import annotations

import base64
import hashlib

import pytest
from nacl.signing import SigningKey

from copyseal.errors import LedgerError, VerificationError
from copyseal.ledger.note import (
    Note,
    NoteSigner,
    NoteVerifier,
    Signature,
    format_vkey,
    key_id,
    open_note,
    parse_note,
    parse_vkey,
    sign_note,
)

from ._util import VECTORS

GO_NOTE = (VECTORS / "go-signed-checkpoint.txt").read_bytes()
GO_VKEY = (VECTORS / "go-signed-checkpoint.vkey").read_text(encoding="utf-8").strip()
GO_TEXT_LENGTH = GO_NOTE.index(b"\n\n") + 1  # the signed text, final newline included


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner(name="example.com/log", signing_key=SigningKey(b"\x07" * 32))


def test_go_signed_note_opens() -> None:
    verifier = parse_vkey(GO_VKEY)
    assert (verifier.name, verifier.key_id) == ("go.example/log", 0x3D1C7E8D)
    note = open_note(GO_NOTE, [verifier])
    assert note.text == GO_NOTE[:GO_TEXT_LENGTH].decode()
    assert note.text.startswith("go.example/log\n3\n")
    assert [(s.name, s.key_id) for s in note.signatures] == [("go.example/log", 0x3D1C7E8D)]
    assert note.format().encode() == GO_NOTE
    assert verifier.vkey == GO_VKEY  # our vkey formatting reproduces Go's


@pytest.mark.parametrize("position", range(GO_TEXT_LENGTH))
def test_go_signed_note_fails_after_any_body_byte_changes(position: int) -> None:
    verifier = parse_vkey(GO_VKEY)
    original = GO_NOTE[position]
    for replacement in {original ^ 0x01, original ^ 0x20, original ^ 0x80, ord("A"), ord("\n")}:
        if replacement == original:
            continue
        tampered = GO_NOTE[:position] + bytes([replacement]) + GO_NOTE[position + 1 :]
        with pytest.raises(VerificationError):
            open_note(tampered, [verifier])


def test_go_signed_note_fails_after_any_signature_byte_changes() -> None:
    verifier = parse_vkey(GO_VKEY)
    for position in range(GO_TEXT_LENGTH + 1, len(GO_NOTE)):
        tampered = bytearray(GO_NOTE)
        tampered[position] ^= 0x01
        with pytest.raises(VerificationError):
            open_note(bytes(tampered), [verifier])


def test_key_id_and_vkey_follow_the_spec(signer: NoteSigner) -> None:
    public = bytes(SigningKey(b"\x07" * 32).verify_key)
    digest = hashlib.sha256(b"example.com/log\n\x01" + public).digest()
    assert key_id("example.com/log", public) == int.from_bytes(digest[:4], "big")
    blob = base64.b64encode(b"\x01" + public).decode()
    assert signer.vkey == f"example.com/log+{digest[:4].hex()}+{blob}"
    assert parse_vkey(signer.vkey) == signer.verifier


def test_our_notes_round_trip(signer: NoteSigner) -> None:
    text = "example.com/log\n42\nsome text with ünïcode and  spaces\n"
    signed = sign_note(text, signer)
    assert signed.startswith(text + "\n\u2014 example.com/log ")
    note = open_note(signed, [parse_vkey(signer.vkey)])
    assert note.text == text
    assert note.format() == signed
    assert parse_note(signed).format() == signed
    # Ed25519 (RFC 8032) is deterministic: the same text signs to the same note.
    assert sign_note(text, signer) == signed


def test_unknown_signatures_are_set_aside(signer: NoteSigner) -> None:
    other = NoteSigner(name="witness.example", signing_key=SigningKey(b"\x09" * 32))
    signed = sign_note("hello\n", signer, other)
    note = open_note(signed, [signer.verifier])
    assert [s.name for s in note.signatures] == ["example.com/log"]
    assert [s.name for s in note.unverified] == ["witness.example"]
    with pytest.raises(VerificationError, match="no verified signature from a known key"):
        open_note(signed, [parse_vkey(GO_VKEY)])


def test_a_known_key_with_a_bad_signature_rejects_the_note(signer: NoteSigner) -> None:
    impostor = NoteSigner(name="example.com/log", signing_key=SigningKey(b"\x08" * 32))
    good = sign_note("hello\n", signer).split("\n\n")[1]
    forged = impostor.sign("hello\n")
    # Same name and key ID as the real key, but signed by another key.
    forged = Signature(name=forged.name, key_id=signer.verifier.key_id, signature=forged.signature)
    with pytest.raises(VerificationError, match=r"invalid note signature by key example\.com/log"):
        open_note("hello\n\n" + forged.line(), [signer.verifier])
    with pytest.raises(VerificationError, match="signed twice"):
        open_note("hello\n\n" + good + good, [signer.verifier])


@pytest.mark.parametrize(
    ("message", "match"),
    [
        ("hello\n", "no blank line"),
        ("hello\n\n", "signature block must end with a newline"),
        ("hello\n\n- example.com/log AAAAAAA=\n", "must start with"),
        ("hello\n\n\u2014 example.com/log not*base64\n", "not base64"),
        ("hello\n\n\u2014 example.com/log AAAA\n", "bad signature line"),
        ("hello\n\n\u2014 bad+name AAAAAAA=\n", "bad signature line"),
        ("hel\tlo\n\n\u2014 example.com/log AAAAAAA=\n", "control character"),
        ("hello\n\n\u2014 example.com/log AAAAAAB=\n", "not base64"),  # non-canonical
        ("a\n\n" + "\u2014 n AAAAAAA=\n" * 101, "too many signatures"),
        (b"hel\xfflo\n\n" + "\u2014 n AAAAAAA=\n".encode(), "not valid UTF-8"),
    ],
)
def test_malformed_notes_are_rejected(message: str | bytes, match: str) -> None:
    with pytest.raises(VerificationError, match=match):
        open_note(message, [parse_vkey(GO_VKEY)])


@pytest.mark.parametrize(
    ("vkey", "match"),
    [
        ("go.example/log", "expected name\\+keyid\\+key"),
        ("go.example/log+3d1c7e8+ATgReT6NERyJ/Pn4iU7v2syPddTgO+9nIYKASmnjJs6D", "8 lowercase hex"),
        ("go.example/log+3d1c7e8e+ATgReT6NERyJ/Pn4iU7v2syPddTgO+9nIYKASmnjJs6D", "does not match"),
        ("go.example/log+3d1c7e8d+AjgReT6NERyJ/Pn4iU7v2syPddTgO+9nIYKASmnjJs6D", "not an Ed25519"),
        ("go.example/log+3d1c7e8d+%%%", "not base64"),
        (
            "other.example/log+3d1c7e8d+ATgReT6NERyJ/Pn4iU7v2syPddTgO+9nIYKASmnjJs6D",
            "does not match",
        ),
    ],
)
def test_malformed_vkeys_are_rejected(vkey: str, match: str) -> None:
    with pytest.raises(VerificationError, match=match):
        parse_vkey(vkey)


def test_signing_refuses_invalid_texts_and_names() -> None:
    key = SigningKey(b"\x01" * 32)
    with pytest.raises(LedgerError, match="key name"):
        NoteSigner(name="has space", signing_key=key)
    with pytest.raises(LedgerError, match="key name"):
        format_vkey("a+b", bytes(32))
    signer = NoteSigner(name="n", signing_key=key)
    with pytest.raises(LedgerError, match="end with a newline"):
        sign_note("no newline", signer)
    with pytest.raises(LedgerError, match="control character"):
        sign_note("bell\a\n", signer)
    with pytest.raises(LedgerError, match="at least one signer"):
        sign_note("x\n")


def test_a_verifier_with_a_garbage_key_fails_closed() -> None:
    verifier = NoteVerifier(name="n", key_id=1, public_key=b"\xff" * 32)
    assert verifier.verify("text\n", b"\x00" * 64) is False
    note = Note(text="x\n", signatures=(Signature(name="n", key_id=1, signature=b"\x00" * 64),))
    with pytest.raises(VerificationError, match="invalid note signature"):
        open_note(note.format(), [verifier])
