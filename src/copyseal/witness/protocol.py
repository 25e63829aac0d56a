"""The C2SP ``tlog-witness`` wire format: the ``add-checkpoint`` request and its replies.

Request body (``POST <prefix>/add-checkpoint``), every line ending in a newline::

    old <size the client believes the witness last cosigned, decimal, no leading zeros>
    <zero to 63 lines: the RFC 9162 consistency proof from that size, one base64 hash each>
    <an empty line>
    <the signed checkpoint note>

Replies: ``200`` with the witness's cosignature line(s); ``409 Conflict`` with the size the
witness last cosigned (``<decimal>\\n``, ``Content-Type: text/x.tlog.size``) when ``old``
is not it; ``400`` malformed, ``403`` no valid signature of a key the witness trusts for
the origin, ``404`` an origin the witness does not know, ``422`` a proof or root that does
not fit what the witness saw (a split view, or a bad proof).

Pure functions; parsing raises ``ValueError``, which the server answers with ``400``.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from copyseal.ledger.merkle import HASH_SIZE

__all__ = [
    "ADD_CHECKPOINT",
    "MAX_PROOF_LINES",
    "SIZE_CONTENT_TYPE",
    "AddCheckpoint",
    "format_size",
    "parse_add_checkpoint",
    "parse_size",
]

#: The submission path, relative to the witness's URL prefix.
ADD_CHECKPOINT = "add-checkpoint"
#: The most consistency proof lines a client may send (tlog-witness).
MAX_PROOF_LINES = 63
#: Content type of a ``409 Conflict`` body: the witness's latest cosigned size.
SIZE_CONTENT_TYPE = "text/x.tlog.size"

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")


def _decimal(text: str, what: str) -> int:
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"{what} is not a decimal size without leading zeros")
    return int(text)


@dataclass(frozen=True, kw_only=True)
class AddCheckpoint:
    """One ``add-checkpoint`` request: ``old`` size, consistency ``proof``, signed ``note``."""

    old: int
    proof: tuple[bytes, ...]
    note: str

    def format(self) -> bytes:
        """The request body; ``parse_add_checkpoint(r.format()) == r``."""
        lines = [f"old {self.old}\n"]
        lines += [base64.b64encode(h).decode("ascii") + "\n" for h in self.proof]
        return ("".join(lines) + "\n" + self.note).encode("utf-8")


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse an ``add-checkpoint`` request body (the note is only split off, not checked).

    Raises:
        ValueError: the body is not ``old N``, proof lines, an empty line, a note.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError("request body is not UTF-8") from e
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise ValueError("request body has no empty line before the checkpoint")
    first, *proof_lines = head.split("\n")
    keyword, space, size = first.partition(" ")
    if keyword != "old" or not space:
        raise ValueError("request body does not start with an 'old' line")
    old = _decimal(size, "old size")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise ValueError(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof: list[bytes] = []
    for line in proof_lines:
        try:
            raw = base64.b64decode(line.encode("ascii"), validate=True)
        except (ValueError, binascii.Error, UnicodeEncodeError) as e:
            raise ValueError("a consistency proof line is not base64") from e
        if len(raw) != HASH_SIZE or base64.b64encode(raw).decode("ascii") != line:
            raise ValueError("a consistency proof line is not one base64 SHA-256 hash")
        proof.append(raw)
    return AddCheckpoint(old=old, proof=tuple(proof), note=note)


def format_size(size: int) -> bytes:
    """A ``409 Conflict`` body: the size in decimal and a newline."""
    return f"{size}\n".encode("ascii")


def parse_size(body: bytes) -> int:
    """The size in a ``text/x.tlog.size`` body.

    Raises:
        ValueError: not one decimal line.
    """
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError as e:
        raise ValueError("size body is not ASCII") from e
    if not text.endswith("\n"):
        raise ValueError("size body does not end with a newline")
    return _decimal(text[:-1], "witness size")
