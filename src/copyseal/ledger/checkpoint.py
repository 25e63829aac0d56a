"""C2SP transparency-log checkpoints (https://c2sp.org/tlog-checkpoint).

A checkpoint is the text of a signed note: the log's origin, the tree size in decimal
without leading zeros, the base64 RFC 9162 root hash, then optional non-empty extension
lines::

    example.com/behind-the-sofa
    20852163
    CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

Parsing raises nothing but :class:`~copyseal.errors.VerificationError`.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from copyseal.errors import LedgerError, VerificationError
from copyseal.ledger._merkle import HASH_SIZE
from copyseal.ledger.note import NoteSigner, NoteVerifier, open_note, sign_note

__all__ = ["Checkpoint", "open_checkpoint", "parse_checkpoint"]

_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")
#: Tree sizes are 64-bit in every implementation we interoperate with (Go uses int64).
MAX_TREE_SIZE = (1 << 63) - 1


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """A log's tree head: ``origin``, ``size`` leaves, RFC 9162 ``root`` hash."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise LedgerError("checkpoint origin must be one non-empty line")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise LedgerError(f"checkpoint size {self.size} out of range")
        if len(self.root) != HASH_SIZE:
            raise LedgerError("checkpoint root must be a 32-byte hash")
        if any(not ext or "\n" in ext for ext in self.extensions):
            raise LedgerError("checkpoint extension lines must be single non-empty lines")

    def format(self) -> str:
        """The note text of this checkpoint (final newline included)."""
        root = base64.b64encode(self.root).decode("ascii")
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions)
        )

    def sign(self, signer: NoteSigner) -> str:
        """This checkpoint as a signed note."""
        return sign_note(self.format(), signer)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint note text; ``parse_checkpoint(cp.format()) == cp``.

    Raises:
        VerificationError: the text is not a well-formed checkpoint.
    """
    if not text.endswith("\n"):
        raise VerificationError("malformed checkpoint: text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise VerificationError("malformed checkpoint: fewer than three lines")
    if any(not line for line in lines):
        raise VerificationError("malformed checkpoint: empty line")
    origin, size_text, root_text, *extensions = lines
    if not _SIZE.fullmatch(size_text) or int(size_text) > MAX_TREE_SIZE:
        raise VerificationError("malformed checkpoint: invalid size")
    try:
        root = base64.b64decode(root_text.encode("ascii"), validate=True)
    except (ValueError, binascii.Error, UnicodeEncodeError) as e:
        raise VerificationError("malformed checkpoint: root hash is not base64") from e
    if len(root) != HASH_SIZE or base64.b64encode(root).decode("ascii") != root_text:
        raise VerificationError("malformed checkpoint: root hash is not 32 bytes of base64")
    return Checkpoint(origin=origin, size=int(size_text), root=root, extensions=tuple(extensions))


def open_checkpoint(
    note: str | bytes, verifier: NoteVerifier, *, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint note and parse its text.

    Args:
        note: the signed note.
        verifier: the log's key.
        origin: the origin the checkpoint must carry; defaults to the key's name, as C2SP
            recommends the log's key name match its origin.

    Raises:
        VerificationError: bad signature, malformed checkpoint, or another log's origin.
    """
    opened = open_note(note, [verifier])
    checkpoint = parse_checkpoint(opened.text)
    expected = verifier.name if origin is None else origin
    if checkpoint.origin != expected:
        raise VerificationError(
            f"checkpoint is for log {checkpoint.origin!r}, expected {expected!r}"
        )
    return checkpoint
