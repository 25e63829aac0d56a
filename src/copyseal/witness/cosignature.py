"""Timestamped Ed25519 checkpoint cosignatures (C2SP ``tlog-cosignature``, ``cosignature/v1``).

A cosignature is a signed-note signature line (C2SP ``signed-note``) added to a
checkpoint note by a *witness*: ``— <witness name> base64(key ID || timestamp || sig)``.

- The key ID is ``SHA-256(name || 0x0A || 0x04 || public key)[:4]``: signature type
  ``0x04`` ("timestamped Ed25519 checkpoint cosignatures"), not the ``0x01`` of a log's
  own note signatures, so the two never verify each other's lines.
- The signature is the ``timestamped_signature`` structure: the POSIX time as a big-endian
  uint64 (non-zero, at most 2^63 - 1), then the 64-byte Ed25519 signature (RFC 8032).
- The signed message is ``cosignature/v1\\n``, ``time <seconds>\\n``, then the whole note
  text of the checkpoint (extension lines and final newline included, no signature lines).
- Verifier keys are ``name+hex(key ID)+base64(0x04 || public key)``.

A v1 cosignature states that, at that time, the checkpoint was the largest consistent
tree head the witness had seen for that origin. These are pure functions over text and
bytes; verification raises nothing but :class:`~copyseal.errors.VerificationError`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from nacl.exceptions import CryptoError
from nacl.signing import SigningKey, VerifyKey

from copyseal.errors import AnchorError, VerificationError
from copyseal.ledger.note import SIG_PREFIX, Signature, key_id, parse_note

__all__ = [
    "ALG_COSIGNATURE_V1",
    "Cosignature",
    "CosignatureVerifier",
    "Cosigner",
    "add_signature_lines",
    "cosigned_message",
    "open_cosignatures",
    "parse_cosignature_vkey",
    "verify_witnesses",
]

#: Signature type of Ed25519 ``cosignature/v1`` lines (C2SP signed-note, "Signature types").
ALG_COSIGNATURE_V1 = 0x04
#: The header line that separates cosigned messages from every other signed text.
HEADER = "cosignature/v1\n"
_TIMESTAMP_SIZE = 8
_ED25519_SIZE = 64
_MAX_TIMESTAMP = (1 << 63) - 1
_NAME_FORBIDDEN = re.compile(r"[\s+]")


def cosigned_message(text: str, timestamp: int) -> bytes:
    """The bytes a ``cosignature/v1`` signs: header, ``time`` line, the checkpoint's note text."""
    return f"{HEADER}time {timestamp}\n{text}".encode()


def _b64decode(text: str) -> bytes:
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("non-canonical base64")
    return raw


@dataclass(frozen=True, kw_only=True)
class Cosignature:
    """A verified cosignature: which witness key, and when the witness says it signed."""

    name: str
    key_id: int
    public_key: bytes
    timestamp: int

    @property
    def time(self) -> datetime:
        """The cosignature's time (UTC)."""
        return datetime.fromtimestamp(self.timestamp, UTC)


@dataclass(frozen=True, kw_only=True)
class CosignatureVerifier:
    """A witness's public key for ``cosignature/v1`` lines, usually from
    :func:`parse_cosignature_vkey`."""

    name: str
    key_id: int
    public_key: bytes

    @property
    def vkey(self) -> str:
        """``name+hex(key ID)+base64(0x04 || public key)``."""
        blob = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id:08x}+{blob}"

    def matches(self, sig: Signature) -> bool:
        """Whether a signature line names this key (key name and key ID both match)."""
        return sig.name == self.name and sig.key_id == self.key_id

    def verify(self, text: str, sig: Signature) -> Cosignature:
        """Check that ``sig`` (a line naming this key) cosigns the note text ``text``.

        Raises:
            VerificationError: wrong length, zero or out-of-range time, or a bad signature.
        """
        raw = sig.signature
        if len(raw) != _TIMESTAMP_SIZE + _ED25519_SIZE:
            raise VerificationError(f"cosignature by {self.name} has the wrong length")
        timestamp = int.from_bytes(raw[:_TIMESTAMP_SIZE], "big")
        if not 0 < timestamp <= _MAX_TIMESTAMP:
            raise VerificationError(f"cosignature by {self.name} has no valid timestamp")
        try:
            VerifyKey(self.public_key).verify(
                cosigned_message(text, timestamp), raw[_TIMESTAMP_SIZE:]
            )
        except (CryptoError, ValueError, TypeError) as e:
            raise VerificationError(f"invalid cosignature by witness {self.name}") from e
        return Cosignature(
            name=self.name, key_id=self.key_id, public_key=self.public_key, timestamp=timestamp
        )


def _valid_name(name: str) -> bool:
    return bool(name) and not _NAME_FORBIDDEN.search(name)


def parse_cosignature_vkey(vkey: str) -> CosignatureVerifier:
    """Parse ``name+hexkeyid+base64(0x04 || pubkey)`` and check its key ID.

    Raises:
        VerificationError: the string is not an Ed25519 ``cosignature/v1`` verifier key.
    """
    name, sep, rest = vkey.strip().partition("+")
    hex_id, sep2, blob = rest.partition("+")
    if not sep or not sep2 or not _valid_name(name):
        raise VerificationError("malformed witness key: expected name+keyid+key")
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise VerificationError("malformed witness key: key ID is not 8 lowercase hex digits")
    try:
        raw = _b64decode(blob)
    except (ValueError, binascii.Error, UnicodeEncodeError) as e:
        raise VerificationError("malformed witness key: key is not base64") from e
    if len(raw) != 33 or raw[0] != ALG_COSIGNATURE_V1:
        raise VerificationError(
            "witness key is not an Ed25519 cosignature key (type 0x04, 32 bytes)"
        )
    public = raw[1:]
    kid = int(hex_id, 16)
    if kid != key_id(name, public, ALG_COSIGNATURE_V1):
        raise VerificationError("witness key ID does not match its name and key")
    return CosignatureVerifier(name=name, key_id=kid, public_key=public)


class Cosigner:
    """Makes ``cosignature/v1`` lines with a witness's Ed25519 key (kept out of the repr)."""

    def __init__(self, *, name: str, signing_key: SigningKey) -> None:
        if not _valid_name(name):
            raise AnchorError(f"invalid witness name {name!r}: no spaces or '+' allowed")
        self._key = signing_key
        public = bytes(signing_key.verify_key)
        self.verifier = CosignatureVerifier(
            name=name, key_id=key_id(name, public, ALG_COSIGNATURE_V1), public_key=public
        )

    def __repr__(self) -> str:
        return f"Cosigner(name={self.name!r})"

    @property
    def name(self) -> str:
        """The witness's key name."""
        return self.verifier.name

    @property
    def vkey(self) -> str:
        """The verifier key to publish."""
        return self.verifier.vkey

    def cosign(self, text: str, *, timestamp: int) -> Signature:
        """The cosignature of the checkpoint note text ``text`` at POSIX time ``timestamp``."""
        if not 0 < timestamp <= _MAX_TIMESTAMP:
            raise AnchorError(f"cosignature time {timestamp} out of range")
        sig = self._key.sign(cosigned_message(text, timestamp)).signature
        return Signature(
            name=self.name,
            key_id=self.verifier.key_id,
            signature=timestamp.to_bytes(_TIMESTAMP_SIZE, "big") + sig,
        )


def open_cosignatures(
    note: str | bytes, witnesses: Sequence[CosignatureVerifier]
) -> tuple[Cosignature, ...]:
    """The valid cosignatures of ``witnesses`` on a signed note, one per witness key.

    Lines of other keys (the log's own signature, unknown witnesses) are ignored, as the
    signed-note spec requires; a line of a known key that fails to verify rejects the note.

    Raises:
        VerificationError: malformed note, or a known witness's line does not verify.
    """
    parsed = parse_note(note)
    found: dict[bytes, Cosignature] = {}
    for sig in parsed.signatures:
        for witness in witnesses:
            if witness.matches(sig):
                cosig = witness.verify(parsed.text, sig)
                found.setdefault(witness.public_key, cosig)
    return tuple(found.values())


def verify_witnesses(
    note: str | bytes, witnesses: Sequence[CosignatureVerifier], *, min_witnesses: int = 1
) -> tuple[Cosignature, ...]:
    """Require valid cosignatures of at least ``min_witnesses`` of ``witnesses`` (k of n).

    Witnesses count once per public key (the ``cosignature/v1`` message does not commit to
    the witness's name, so one key under two names is one witness).

    Returns:
        The valid cosignatures found, one per witness key.

    Raises:
        VerificationError: malformed note, a bad line from a known witness, or too few.
    """
    if min_witnesses < 0:
        raise VerificationError("the number of witnesses required cannot be negative")
    distinct = {w.public_key for w in witnesses}
    if min_witnesses > len(distinct):
        raise VerificationError(
            f"{min_witnesses} witnesses required, but only {len(distinct)} witness keys given"
        )
    found = open_cosignatures(note, witnesses)
    if len(found) < min_witnesses:
        raise VerificationError(
            f"checkpoint cosigned by {len(found)} of the given witnesses, {min_witnesses} required"
        )
    return found


def add_signature_lines(note: str, lines: Sequence[Signature]) -> str:
    """``note`` with signature ``lines`` appended (lines already on it are not repeated)."""
    parsed = parse_note(note)
    have = set(parsed.signatures)
    extra = "".join(s.line() for s in lines if s not in have)
    if not note.endswith("\n") or not all(s.line().startswith(SIG_PREFIX) for s in lines):
        raise VerificationError("malformed note: cannot add signature lines")
    return note + extra
