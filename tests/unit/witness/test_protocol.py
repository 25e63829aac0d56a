"""The ``add-checkpoint`` wire format (C2SP tlog-witness)."""

from __future__ import annotations

import hashlib

import pytest

from copyseal.witness.protocol import AddCheckpoint, format_size, parse_add_checkpoint, parse_size

H1, H2 = hashlib.sha256(b"1").digest(), hashlib.sha256(b"2").digest()
NOTE = "example.test/log\n5\n" + "A" * 43 + "=\n\n\u2014 example.test/log AAAA\n"


def test_round_trip_and_layout() -> None:
    request = AddCheckpoint(old=3, proof=(H1, H2), note=NOTE)
    body = request.format()
    lines = body.decode().split("\n")
    assert lines[0] == "old 3" and lines[3] == "" and body.endswith(NOTE.encode())
    assert parse_add_checkpoint(body) == request
    empty = AddCheckpoint(old=0, proof=(), note=NOTE)
    assert empty.format() == b"old 0\n\n" + NOTE.encode()
    assert parse_add_checkpoint(empty.format()) == empty


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"old 3\n",  # no empty line
        b"new 3\n\nx",
        b"old 03\n\nx",  # leading zero
        b"old -1\n\nx",
        b"old 3\nnot base64!\n\nx",
        b"old 3\nAAAA\n\nx",  # not a 32-byte hash
        b"old 3\n" + b"A" * 43 + b"=\n" * 64 + b"\nx",
        b"old 3\xff\n\nx",
    ],
)
def test_malformed_requests(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_add_checkpoint(body)


def test_too_many_proof_lines() -> None:
    body = AddCheckpoint(old=1, proof=(H1,) * 64, note=NOTE).format()
    with pytest.raises(ValueError, match="more than 63"):
        parse_add_checkpoint(body)
    assert (
        len(parse_add_checkpoint(AddCheckpoint(old=1, proof=(H1,) * 63, note=NOTE).format()).proof)
        == 63
    )


def test_size_bodies() -> None:
    assert format_size(42) == b"42\n" and parse_size(b"42\n") == 42
    for bad in (b"42", b"042\n", b"x\n", b"\xff\n"):
        with pytest.raises(ValueError):
            parse_size(bad)
