"""The minimal SNTP client (RFC 4330), against a fake server on 127.0.0.1."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from copyseal.capture import _sntp

SKEW = 2.5  # the fake server's clock runs this many seconds ahead


def _reply(request: bytes, *, stratum: int = 2, mode: int = 4, skew: float = SKEW) -> bytes:
    import time

    words = struct.unpack("!BBbb11I", request)
    now = time.time() + skew
    sec, frac = _sntp.to_ntp(now)
    origin = words[-2:]  # the client's transmit timestamp
    return struct.pack(
        "!BBbb11I",
        (0 << 6) | (4 << 3) | mode,
        stratum,
        0,
        -20,
        0,
        0,
        0,
        0,
        0,
        *origin,
        sec,
        frac,
        sec,
        frac,
    )


@pytest.fixture
def server() -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)

    def serve() -> None:
        try:
            data, addr = sock.recvfrom(512)
            sock.sendto(_reply(data), addr)
        except OSError:
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    t.join(timeout=5)
    sock.close()


def test_query_measures_the_offset(server: str) -> None:
    result = _sntp.query(server, timeout=2)
    assert result.offset == pytest.approx(SKEW, abs=0.2)
    assert 0 <= result.delay < 0.5
    assert result.stratum == 2
    assert result.to_json()["server"] == server


def test_timestamps_round_trip() -> None:
    t = 1_767_000_000.123456
    assert _sntp.from_ntp(*_sntp.to_ntp(t)) == pytest.approx(t, abs=1e-6)


def test_reply_checks() -> None:
    t1 = 1_767_000_000.5
    request = _sntp.build_request(t1)
    assert len(request) == 48 and request[0] == 0x23
    good = _reply(request, skew=0)
    assert _sntp.parse_response(good, t1=t1, t4=t1 + 0.01, server="s").stratum == 2
    with pytest.raises(_sntp.SntpError, match="kiss-o'-death"):
        _sntp.parse_response(_reply(request, stratum=0), t1=t1, t4=t1, server="s")
    with pytest.raises(_sntp.SntpError, match="not a server reply"):
        _sntp.parse_response(_reply(request, mode=3), t1=t1, t4=t1, server="s")
    with pytest.raises(_sntp.SntpError, match="does not answer our request"):
        _sntp.parse_response(good, t1=t1 + 1, t4=t1 + 1, server="s")
    with pytest.raises(_sntp.SntpError, match="short"):
        _sntp.parse_response(good[:20], t1=t1, t4=t1, server="s")


def test_no_answer_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as quiet:
        quiet.bind(("127.0.0.1", 0))
        port = quiet.getsockname()[1]
        with pytest.raises(_sntp.SntpError, match=r"no answer within 0\.2 s"):
            _sntp.query(f"127.0.0.1:{port}", timeout=0.2)
