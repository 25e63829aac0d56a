"""A minimal SNTP client to measure the system clock's offset (RFC 4330; RFC 5905 §8).

One request, one answer, a timeout; no clock is ever set. With the client's send and
receive times T1, T4 and the server's receive and transmit times T2, T3 (RFC 5905 §8):
``offset = ((T2 - T1) + (T3 - T4)) / 2`` and ``delay = (T4 - T1) - (T3 - T2)``.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass

__all__ = ["SntpError", "SntpResult", "build_request", "parse_response", "query"]

#: Seconds from the NTP era 0 epoch (1900-01-01) to the Unix epoch (RFC 5905 §6).
NTP_UNIX_DELTA = 2_208_988_800
_PACKET = struct.Struct("!BBbb11I")  # 48 bytes: flags, stratum, poll, precision, 11 words
_CLIENT_FLAGS = (0 << 6) | (4 << 3) | 3  # LI 0, version 4, mode 3 (client)
_MODE_SERVER = 4


class SntpError(Exception):
    """The server did not answer, or answered something unusable."""


@dataclass(frozen=True, kw_only=True)
class SntpResult:
    server: str
    offset: float
    delay: float
    stratum: int

    def to_json(self) -> dict[str, object]:
        return {
            "server": self.server,
            "offset_seconds": round(self.offset, 6),
            "round_trip_seconds": round(self.delay, 6),
            "stratum": self.stratum,
        }


def to_ntp(t: float) -> tuple[int, int]:
    """Unix seconds → NTP 64-bit timestamp (seconds, fraction)."""
    t += NTP_UNIX_DELTA
    seconds = int(t)
    return seconds & 0xFFFFFFFF, int((t - seconds) * (1 << 32)) & 0xFFFFFFFF


def from_ntp(seconds: int, fraction: int) -> float:
    return seconds - NTP_UNIX_DELTA + fraction / (1 << 32)


def build_request(t1: float) -> bytes:
    """A client packet whose transmit timestamp is ``t1`` (echoed back as originate)."""
    sec, frac = to_ntp(t1)
    return _PACKET.pack(_CLIENT_FLAGS, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, sec, frac)


def parse_response(data: bytes, *, t1: float, t4: float, server: str) -> SntpResult:
    """Check a server packet against our request (RFC 4330 §5) and compute offset and delay."""
    if len(data) < _PACKET.size:
        raise SntpError(f"{server}: short NTP packet ({len(data)} bytes)")
    flags, stratum, _poll, _prec, *words = _PACKET.unpack(data[: _PACKET.size])
    if flags & 0x7 != _MODE_SERVER:
        raise SntpError(f"{server}: not a server reply (mode {flags & 0x7})")
    if stratum == 0:
        raise SntpError(f"{server}: kiss-o'-death reply")
    if flags >> 6 == 3:
        raise SntpError(f"{server}: server clock not synchronised")
    # words: root delay, root dispersion, reference id, then the reference, originate,
    # receive and transmit timestamps as (seconds, fraction) pairs (RFC 5905 §7.3).
    originate = from_ntp(words[5], words[6])
    t2 = from_ntp(words[7], words[8])
    t3 = from_ntp(words[9], words[10])
    if (words[5], words[6]) != to_ntp(t1):
        raise SntpError(f"{server}: reply does not answer our request (originate {originate})")
    offset = ((t2 - t1) + (t3 - t4)) / 2
    delay = (t4 - t1) - (t3 - t2)
    return SntpResult(server=server, offset=offset, delay=delay, stratum=stratum)


def query(server: str, *, timeout: float = 2.0) -> SntpResult:
    """Ask ``host`` or ``host:port`` (default 123) once over UDP."""
    host, _, port_text = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
    host = host or server
    port = int(port_text) if port_text else 123
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError as e:
        raise SntpError(f"{server}: cannot resolve ({e})") from e
    family, _type, _proto, _canon, addr = infos[0]
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        t1 = time.time()
        try:
            sock.sendto(build_request(t1), addr)
            data, _ = sock.recvfrom(512)
        except OSError as e:  # includes socket.timeout
            raise SntpError(f"{server}: no answer within {timeout} s ({e})") from e
        t4 = time.time()
    return parse_response(data, t1=t1, t4=t4, server=server)
