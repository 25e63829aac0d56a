"""C2SP transparency-log proofs, ``c2sp.org/tlog-proof@v1`` (https://c2sp.org/tlog-proof).

A receipt is everything a stranger needs to check, offline, that some data is in the log::

    c2sp.org/tlog-proof@v1
    index 13
    <inclusion proof hash, base64, leaf's sibling first>
    ...
    <blank line>
    <the signed checkpoint note, verbatim>

:func:`verify_receipt` uses only the pure modules (no database) and raises nothing but
:class:`~copyseal.errors.VerificationError`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from copyseal.errors import LedgerError, VerificationError
from copyseal.ledger._merkle import HASH_SIZE, leaf_hash, verify_consistency, verify_inclusion
from copyseal.ledger.checkpoint import Checkpoint, open_checkpoint
from copyseal.ledger.note import parse_vkey

__all__ = [
    "HEADER",
    "Receipt",
    "parse_receipt",
    "verify_checkpoint_consistency",
    "verify_receipt",
    "verify_receipt_hash",
]

#: First line of every proof (C2SP tlog-proof, "Format").
HEADER = "c2sp.org/tlog-proof@v1"
_INDEX = re.compile(r"index (0|[1-9][0-9]{0,18})")
#: Receipts larger than this are rejected unread (a proof is ~64 hashes at most).
MAX_RECEIPT_BYTES = 1 << 20


@dataclass(frozen=True, kw_only=True)
class Receipt:
    """A ``tlog-proof@v1``: leaf index, inclusion proof, signed checkpoint note, extra data.

    ``extra`` is opaque and unauthenticated (the spec's optional ``extra`` line).
    """

    index: int
    proof: tuple[bytes, ...]
    checkpoint_note: str
    extra: bytes | None = field(default=None)

    def __post_init__(self) -> None:
        if self.index < 0:
            raise LedgerError("receipt index must not be negative")
        if any(len(h) != HASH_SIZE for h in self.proof):
            raise LedgerError("receipt proof hashes must be 32 bytes each")
        if not self.checkpoint_note.endswith("\n"):
            raise LedgerError("receipt checkpoint note must end with a newline")

    def format(self) -> str:
        """The receipt text; ``parse_receipt(r.format()) == r``."""
        lines = [HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode("ascii"))
        lines.append(f"index {self.index}")
        lines.extend(base64.b64encode(h).decode("ascii") for h in self.proof)
        return "\n".join(lines) + "\n\n" + self.checkpoint_note


def _b64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, binascii.Error, UnicodeEncodeError) as e:
        raise VerificationError(f"malformed receipt: {what} is not base64") from e
    if base64.b64encode(raw).decode("ascii") != text:
        raise VerificationError(f"malformed receipt: {what} is not canonical base64")
    return raw


def parse_receipt(text: str | bytes) -> Receipt:
    """Parse a ``tlog-proof@v1`` receipt (syntax only; nothing is verified).

    Raises:
        VerificationError: the text is not a well-formed receipt.
    """
    if isinstance(text, bytes):
        if len(text) > MAX_RECEIPT_BYTES:
            raise VerificationError("malformed receipt: too large")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise VerificationError("malformed receipt: not valid UTF-8") from e
    elif len(text) > MAX_RECEIPT_BYTES:
        raise VerificationError("malformed receipt: too large")
    head, sep, note = text.partition("\n\n")
    if not sep or not note:
        raise VerificationError("malformed receipt: no blank line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != HEADER:
        raise VerificationError(f"malformed receipt: first line must be {HEADER!r}")
    pos = 1
    extra = None
    if pos < len(lines) and lines[pos].startswith("extra "):
        extra = _b64(lines[pos][len("extra ") :], "extra data")
        pos += 1
    match = _INDEX.fullmatch(lines[pos]) if pos < len(lines) else None
    if match is None:
        raise VerificationError("malformed receipt: missing or invalid 'index N' line")
    proof = tuple(_b64(line, "proof hash") for line in lines[pos + 1 :])
    if any(len(h) != HASH_SIZE for h in proof):
        raise VerificationError("malformed receipt: proof hash is not 32 bytes")
    if not note.endswith("\n"):
        raise VerificationError("malformed receipt: checkpoint note must end with a newline")
    return Receipt(index=int(match.group(1)), proof=proof, checkpoint_note=note, extra=extra)


def verify_receipt_hash(
    receipt_text: str | bytes, leaf: bytes, vkey: str, *, origin: str | None = None
) -> Checkpoint:
    """Verify a receipt for a leaf given by its RFC 9162 leaf hash.

    Returns:
        The verified checkpoint the leaf is included in.

    Raises:
        VerificationError: anything at all is wrong.
    """
    receipt = parse_receipt(receipt_text)
    checkpoint = open_checkpoint(receipt.checkpoint_note, parse_vkey(vkey), origin=origin)
    verify_inclusion(
        leaf_hash=leaf,
        index=receipt.index,
        size=checkpoint.size,
        proof=receipt.proof,
        root=checkpoint.root,
    )
    return checkpoint


def verify_receipt(
    receipt_text: str | bytes, leaf_data: bytes, vkey: str, *, origin: str | None = None
) -> Checkpoint:
    """Verify offline that ``leaf_data`` is in the log, from a receipt and the log's vkey.

    Checks the checkpoint note's Ed25519 signature against ``vkey``, that the checkpoint's
    origin is ``origin`` (default: the vkey's name), and the RFC 9162 §2.1.3.2 inclusion
    proof of ``SHA-256(0x00 || leaf_data)`` at the receipt's index up to the signed root.

    Returns:
        The verified checkpoint (origin, size, root) the data is included in.

    Raises:
        VerificationError: anything at all is wrong.
    """
    return verify_receipt_hash(receipt_text, leaf_hash(leaf_data), vkey, origin=origin)


def verify_checkpoint_consistency(
    old_note: str | bytes,
    new_note: str | bytes,
    proof: Sequence[bytes],
    vkey: str,
    *,
    origin: str | None = None,
) -> tuple[Checkpoint, Checkpoint]:
    """Verify two signed checkpoints of one log and the RFC 9162 §2.1.4.2 consistency proof
    from the older to the newer: the newer tree extends the older without rewriting it.

    Raises:
        VerificationError: a bad signature, another log, or a rewritten history.
    """
    verifier = parse_vkey(vkey)
    old = open_checkpoint(old_note, verifier, origin=origin)
    new = open_checkpoint(new_note, verifier, origin=origin)
    verify_consistency(
        old_size=old.size, new_size=new.size, proof=proof, old_root=old.root, new_root=new.root
    )
    return old, new
