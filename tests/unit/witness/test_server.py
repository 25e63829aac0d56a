"""The witness over real HTTP on 127.0.0.1: status codes, content types and limits."""

from __future__ import annotations

import hashlib
import http.client
import socket
import time
import urllib.parse
from collections.abc import Iterator

import pytest

from copyseal.ledger import Ledger
from copyseal.ledger.note import parse_note
from copyseal.witness import server as server_module
from copyseal.witness.cosignature import open_cosignatures
from copyseal.witness.protocol import SIZE_CONTENT_TYPE, AddCheckpoint
from copyseal.witness.server import MAX_BODY, serving
from copyseal.witness.service import Witness

from .conftest import ORIGIN, WitnessFactory


@pytest.fixture
def witness(make_witness: WitnessFactory) -> Witness:
    return make_witness()


@pytest.fixture
def conn(witness: Witness) -> Iterator[http.client.HTTPConnection]:
    with serving(witness) as url:
        parts = urllib.parse.urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        yield connection
        connection.close()


def _post(
    conn: http.client.HTTPConnection, body: bytes, path: str = "/add-checkpoint"
) -> tuple[int, str, bytes]:
    conn.request("POST", path, body=body)
    response = conn.getresponse()
    return response.status, response.getheader("Content-Type") or "", response.read()


def test_add_checkpoint_over_http(
    conn: http.client.HTTPConnection, witness: Witness, ledger: Ledger
) -> None:
    first = ledger.checkpoint_at(3)
    assert first is not None
    status, _, body = _post(conn, AddCheckpoint(old=0, proof=(), note=first.note).format())
    assert status == 200
    assert body.startswith("\u2014 witness.test/w1 ".encode()) and body.endswith(b"\n")
    assert open_cosignatures(first.note + body.decode(), [witness.cosigner.verifier])
    # Keep-alive: the same connection goes on; a stale old size is a 409 with the size.
    latest = ledger.latest_checkpoint().note
    status, ctype, body = _post(conn, AddCheckpoint(old=0, proof=(), note=latest).format())
    assert (status, ctype, body) == (409, SIZE_CONTENT_TYPE, b"3\n")
    proof = tuple(ledger.consistency_proof(3, 7))
    bad = (proof[0][::-1], *proof[1:])
    status, _, body = _post(conn, AddCheckpoint(old=3, proof=bad, note=latest).format())
    assert status == 422 and b"inconsistent with size 3" in body
    status, _, body = _post(conn, AddCheckpoint(old=3, proof=proof, note=latest).format())
    assert status == 200
    # Monitors read the latest cosigned checkpoint by the origin's hash.
    conn.request("GET", f"/{hashlib.sha256(ORIGIN.encode()).hexdigest()}/checkpoint")
    response = conn.getresponse()
    served = response.read().decode()
    assert response.status == 200 and parse_note(served).text == parse_note(latest).text
    assert served.endswith(body.decode())


def test_refusals_over_http(conn: http.client.HTTPConnection, ledger: Ledger) -> None:
    status, _, body = _post(conn, b"garbage")
    assert status == 400 and body.startswith(b"malformed request")
    status, _, _ = _post(conn, b"old 0\n\n", path="/elsewhere")
    assert status == 404
    conn.request("GET", "/" + "0" * 64 + "/checkpoint")
    response = conn.getresponse()
    assert response.status == 404 and response.read() == b"not found\n"


def test_large_bodies_are_refused_unread(conn: http.client.HTTPConnection) -> None:
    status, _, body = _post(conn, b"x" * (MAX_BODY + 1))
    assert status == 413 and body == b"request body too large\n"


def test_the_server_stops(witness: Witness) -> None:
    with serving(witness) as url:
        port = urllib.parse.urlsplit(url).port
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    with pytest.raises(OSError):
        connection.request("GET", "/")
    connection.close()


def test_connections_beyond_the_limit_are_closed(
    witness: Witness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "MAX_CONNECTIONS", 2)
    with serving(witness) as url:
        address = ("127.0.0.1", urllib.parse.urlsplit(url).port or 0)
        idle = [socket.create_connection(address, timeout=5) for _ in range(2)]
        extra = socket.create_connection(address, timeout=5)
        extra.sendall(b"GET /x/checkpoint HTTP/1.1\r\nHost: w\r\n\r\n")
        assert extra.recv(100) == b""  # closed unanswered
        extra.close()
        for s in idle:
            s.close()
        for _ in range(50):  # the idle connections' threads end and free their slots
            conn = http.client.HTTPConnection(*address, timeout=5)
            try:
                conn.request("GET", "/x/checkpoint")
                status = conn.getresponse().status
            except (ConnectionError, http.client.RemoteDisconnected):
                time.sleep(0.1)
                continue
            finally:
                conn.close()
            assert status == 404
            break
        else:
            pytest.fail("the witness never answered again")
