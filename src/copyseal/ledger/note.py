"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 signatures.

A signed note is a text ending in a newline, a blank line, and signature lines
``— <key name> <base64(key ID || signature)>``. The key ID is the first four bytes
(big-endian) of ``SHA-256(key name || 0x0A || 0x01 || public key)``; verifier keys are
published as ``<name>+<hex key ID>+<base64(0x01 || public key)>`` (Go's
``golang.org/x/mod/sumdb/note`` "vkey" format). Notes we sign open with Go's ``note.Open``
and notes Go signs open here.

:func:`open_note` and :func:`parse_vkey` raise nothing but
:class:`~copyseal.errors.VerificationError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from nacl.exceptions import CryptoError
from nacl.signing import SigningKey, VerifyKey

from copyseal.errors import LedgerError, VerificationError

__all__ = [
    "ALG_ED25519",
    "Note",
    "NoteSigner",
    "NoteVerifier",
    "Signature",
    "format_vkey",
    "key_id",
    "open_note",
    "parse_note",
    "parse_vkey",
    "sign_note",
]

#: Signature type identifier byte for Ed25519 (C2SP signed-note, "Signature types").
ALG_ED25519 = 0x01
#: Start of every signature line: EM DASH (U+2014) and a space.
SIG_PREFIX = "\u2014 "
#: Largest note we parse; the spec asks verifiers to bound size (and accept ≥ 16 signatures).
MAX_NOTE_BYTES = 1 << 20
MAX_SIGNATURES = 100

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_NAME_FORBIDDEN = re.compile(r"[\s+]")  # Python's \s covers Go's unicode.IsSpace


def _valid_name(name: str) -> bool:
    """Key names are non-empty and contain no Unicode space and no ``+``."""
    return bool(name) and not _NAME_FORBIDDEN.search(name)


def _b64decode(text: str) -> bytes:
    """Strict standard base64 (RFC 4648 §4) that also rejects non-canonical encodings."""
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("non-canonical base64")
    return raw


def key_id(name: str, public_key: bytes, alg: int = ALG_ED25519) -> int:
    """``SHA-256(name || 0x0A || alg || public key)[:4]`` as a big-endian uint32."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def format_vkey(name: str, public_key: bytes) -> str:
    """The verifier key string ``name+hexkeyid+base64(0x01 || pubkey)``."""
    if not _valid_name(name):
        raise LedgerError(f"invalid note key name {name!r}: no spaces or '+' allowed")
    blob = base64.b64encode(bytes([ALG_ED25519]) + public_key).decode("ascii")
    return f"{name}+{key_id(name, public_key):08x}+{blob}"


@dataclass(frozen=True, kw_only=True)
class Signature:
    """One signature line: key name, key ID and the raw signature bytes (without the ID)."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        """The signature line, newline included."""
        blob = self.key_id.to_bytes(4, "big") + self.signature
        return f"{SIG_PREFIX}{self.name} {base64.b64encode(blob).decode('ascii')}\n"


@dataclass(frozen=True, kw_only=True)
class Note:
    """A parsed note: its text (final newline included) and signatures.

    After :func:`open_note`, ``signatures`` are the verified ones and ``unverified`` those
    from keys the caller does not know (which a verifier must ignore).
    """

    text: str
    signatures: tuple[Signature, ...]
    unverified: tuple[Signature, ...] = field(default=())

    def format(self) -> str:
        """The note as transmitted: text, blank line, signature lines."""
        sigs = self.signatures + self.unverified
        return self.text + "\n" + "".join(s.line() for s in sigs)


@dataclass(frozen=True, kw_only=True)
class NoteVerifier:
    """An Ed25519 verifier key for notes, usually from :func:`parse_vkey`."""

    name: str
    key_id: int
    public_key: bytes

    def verify(self, text: str, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature (RFC 8032) of ``text``."""
        try:
            VerifyKey(self.public_key).verify(text.encode("utf-8"), signature)
        except (CryptoError, ValueError, TypeError):
            return False
        return True

    @property
    def vkey(self) -> str:
        """The verifier key string for this key."""
        return format_vkey(self.name, self.public_key)


class NoteSigner:
    """Signs note texts with an Ed25519 key under a key name (for a log: its origin)."""

    def __init__(self, *, name: str, signing_key: SigningKey) -> None:
        if not _valid_name(name):
            raise LedgerError(f"invalid note key name {name!r}: no spaces or '+' allowed")
        self.name = name
        self._key = signing_key
        public = bytes(signing_key.verify_key)
        self.verifier = NoteVerifier(name=name, key_id=key_id(name, public), public_key=public)

    @property
    def vkey(self) -> str:
        """The verifier key string to publish."""
        return self.verifier.vkey

    def sign(self, text: str) -> Signature:
        """Sign ``text`` (which must be a valid note text)."""
        _check_text(text, LedgerError)
        raw = self._key.sign(text.encode("utf-8")).signature
        return Signature(name=self.name, key_id=self.verifier.key_id, signature=raw)


def _check_text(text: str, error: type[Exception]) -> None:
    if not text.endswith("\n"):
        raise error("note text must end with a newline")
    if _CONTROL.search(text):
        raise error("note text contains a control character other than newline")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise error("note text is not valid UTF-8") from e


def sign_note(text: str, *signers: NoteSigner) -> str:
    """Sign ``text`` with each signer and return the signed note."""
    if not signers:
        raise LedgerError("a signed note needs at least one signer")
    sigs = tuple(s.sign(text) for s in signers)
    return Note(text=text, signatures=sigs).format()


def parse_vkey(vkey: str) -> NoteVerifier:
    """Parse ``name+hexkeyid+base64(0x01 || pubkey)`` and check its key ID.

    Raises:
        VerificationError: the string is not an Ed25519 verifier key.
    """
    vkey = vkey.strip()
    name, sep, rest = vkey.partition("+")
    hex_id, sep2, blob = rest.partition("+")
    if not sep or not sep2 or not _valid_name(name):
        raise VerificationError("malformed verifier key: expected name+keyid+key")
    try:  # a str from argv may hold lone surrogates (PEP 383), which key_id cannot hash
        name.encode("utf-8")
    except UnicodeEncodeError as e:
        raise VerificationError("malformed verifier key: name is not valid UTF-8") from e
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise VerificationError("malformed verifier key: key ID is not 8 lowercase hex digits")
    try:
        raw = _b64decode(blob)
    except (ValueError, binascii.Error, UnicodeEncodeError) as e:
        raise VerificationError("malformed verifier key: key is not base64") from e
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise VerificationError("verifier key is not an Ed25519 key (type 0x01, 32 bytes)")
    public = raw[1:]
    kid = int(hex_id, 16)
    if kid != key_id(name, public):
        raise VerificationError("verifier key ID does not match its name and key")
    return NoteVerifier(name=name, key_id=kid, public_key=public)


def parse_note(msg: str | bytes) -> Note:
    """Split a signed note into text and (unverified) signatures, checking its syntax.

    Raises:
        VerificationError: the note is malformed.
    """
    if isinstance(msg, bytes):
        if len(msg) > MAX_NOTE_BYTES:
            raise VerificationError("malformed note: too large")
        try:
            msg = msg.decode("utf-8")
        except UnicodeDecodeError as e:
            raise VerificationError("malformed note: not valid UTF-8") from e
    elif len(msg) > MAX_NOTE_BYTES:
        raise VerificationError("malformed note: too large")
    try:
        msg.encode("utf-8")
    except UnicodeEncodeError as e:
        raise VerificationError("malformed note: not valid UTF-8") from e
    if _CONTROL.search(msg):
        raise VerificationError("malformed note: control character other than newline")
    split = msg.rfind("\n\n")
    if split < 0:
        raise VerificationError("malformed note: no blank line before the signatures")
    text, block = msg[: split + 1], msg[split + 2 :]
    if not block.endswith("\n"):
        raise VerificationError("malformed note: signature block must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise VerificationError("malformed note: too many signatures")
    sigs: list[Signature] = []
    for line in lines:
        if not line.startswith(SIG_PREFIX):
            raise VerificationError("malformed note: signature line must start with '— '")
        name, _, blob = line[len(SIG_PREFIX) :].partition(" ")
        try:
            raw = _b64decode(blob)
        except (ValueError, binascii.Error, UnicodeEncodeError) as e:
            raise VerificationError("malformed note: signature is not base64") from e
        if not _valid_name(name) or len(raw) < 5:
            raise VerificationError("malformed note: bad signature line")
        kid = int.from_bytes(raw[:4], "big")
        sigs.append(Signature(name=name, key_id=kid, signature=raw[4:]))
    return Note(text=text, signatures=tuple(sigs))


def open_note(msg: str | bytes, verifiers: Sequence[NoteVerifier]) -> Note:
    """Parse a signed note and verify it, following Go's ``note.Open``.

    Signatures from unknown keys (name and key ID not both matching a verifier) are set
    aside in ``unverified``; a known key's bad signature rejects the whole note, and so
    does a note without any verified signature.

    Raises:
        VerificationError: malformed note, bad signature, or no signature by a known key.
    """
    note = parse_note(msg)
    known = {(v.name, v.key_id): v for v in verifiers}
    good: list[Signature] = []
    unknown: list[Signature] = []
    seen: set[tuple[str, int]] = set()
    for sig in note.signatures:
        ident = (sig.name, sig.key_id)
        verifier = known.get(ident)
        if verifier is None:
            unknown.append(sig)
            continue
        if ident in seen:
            raise VerificationError(f"note signed twice by key {sig.name}+{sig.key_id:08x}")
        seen.add(ident)
        if not verifier.verify(note.text, sig.signature):
            raise VerificationError(f"invalid note signature by key {sig.name}+{sig.key_id:08x}")
        good.append(sig)
    if not good:
        raise VerificationError("note has no verified signature from a known key")
    return Note(text=note.text, signatures=tuple(good), unverified=tuple(unknown))
