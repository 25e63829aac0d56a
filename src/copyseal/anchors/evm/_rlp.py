"""Recursive Length Prefix: Ethereum's serialisation (Yellow Paper, appendix B).

Pure functions over bytes. :func:`decode` accepts only the canonical encoding (the one
:func:`encode` writes): a single byte below 0x80 is itself, lengths have no leading zeros
and use the short form when they fit, so every value has exactly one encoding and a
changed byte never decodes to the same item.
"""

from __future__ import annotations

from Crypto.Hash import keccak as _keccak

from copyseal.errors import AnchorVerificationError

__all__ = ["Item", "decode", "decode_int", "encode", "encode_int", "keccak256"]

#: An RLP item: a byte string, or a list of items.
Item = bytes | list["Item"]

_SHORT = 56  # payloads shorter than this carry their length in the prefix byte


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (the original Keccak padding, not SHA3-256), Ethereum's hash."""
    return _keccak.new(digest_bits=256, data=data).digest()


def encode_int(value: int) -> bytes:
    """A non-negative integer as RLP's scalar: big-endian, no leading zeros (0 is empty)."""
    if value < 0:
        raise ValueError("RLP scalars are non-negative")
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def decode_int(data: bytes) -> int:
    """The scalar :func:`encode_int` wrote; leading zeros are not canonical."""
    if data[:1] == b"\x00":
        raise AnchorVerificationError("RLP: a scalar with a leading zero")
    return int.from_bytes(data, "big")


def _prefix(length: int, offset: int) -> bytes:
    if length < _SHORT:
        return bytes([offset + length])
    size = encode_int(length)
    return bytes([offset + _SHORT - 1 + len(size)]) + size


def encode(item: Item) -> bytes:
    """The canonical RLP encoding of ``item``."""
    if isinstance(item, bytes):
        if len(item) == 1 and item[0] < 0x80:
            return item
        return _prefix(len(item), 0x80) + item
    payload = b"".join(encode(child) for child in item)
    return _prefix(len(payload), 0xC0) + payload


def _length(data: bytes, pos: int, count: int) -> int:
    raw = data[pos : pos + count]
    if len(raw) != count or raw[0] == 0:
        raise AnchorVerificationError("RLP: a truncated or non-canonical length")
    length = int.from_bytes(raw, "big")
    if length < _SHORT:
        raise AnchorVerificationError("RLP: a long-form length that fits the short form")
    return length


def _item(data: bytes, pos: int) -> tuple[Item, int]:
    """The item at ``pos`` and the position after it."""
    if pos >= len(data):
        raise AnchorVerificationError("RLP: truncated")
    first = data[pos]
    if first < 0x80:
        return data[pos : pos + 1], pos + 1
    if first < 0xB8:
        start, length = pos + 1, first - 0x80
        if length == 1 and start < len(data) and data[start] < 0x80:
            raise AnchorVerificationError("RLP: a single byte below 0x80 given a prefix")
    elif first < 0xC0:
        count = first - 0xB7
        start, length = pos + 1 + count, _length(data, pos + 1, count)
    elif first < 0xF8:
        start, length = pos + 1, first - 0xC0
    else:
        count = first - 0xF7
        start, length = pos + 1 + count, _length(data, pos + 1, count)
    end = start + length
    if end > len(data):
        raise AnchorVerificationError("RLP: truncated")
    if first < 0xC0:
        return data[start:end], end
    children: list[Item] = []
    at = start
    while at < end:
        child, at = _item(data, at)
        children.append(child)
    if at != end:
        raise AnchorVerificationError("RLP: a list's items overrun its length")
    return children, end


def decode(data: bytes) -> Item:
    """The one item ``data`` encodes, canonically and with nothing after it.

    Raises:
        AnchorVerificationError: truncated, trailing bytes, or not canonical.
    """
    item, end = _item(data, 0)
    if end != len(data):
        raise AnchorVerificationError("RLP: bytes after the item")
    return item
