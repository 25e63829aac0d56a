"""The browsers' egress proxy, over real loopback sockets: 127.0.0.2 is the allowed
"public" server, 127.0.0.1 the internal one (same port), which must never be reached."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from copyseal.netpolicy import REFUSED_HEADER, AddressPolicy, EgressProxy


@dataclass
class Servers:
    port: int
    public_hits: list[bytes] = field(default_factory=list)
    internal_hits: list[bytes] = field(default_factory=list)


def _handler(hits: list[bytes], name: bytes) -> type[socketserver.BaseRequestHandler]:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = self.request.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            hits.append(head)
            if b"upgrade: websocket" in head.lower():
                self.request.sendall(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\n\r\n" + name + b" says hi"
                )
                while chunk := self.request.recv(65536):
                    self.request.sendall(b"echo:" + chunk)
                return
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            while len(rest) < length:
                rest += self.request.recv(65536)
            body = name + b" got " + rest
            self.request.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: keep-alive\r\n\r\n%s"
                % (len(body), body)
            )

    return Handler


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    for _ in range(20):
        public = socketserver.ThreadingTCPServer(("127.0.0.2", 0), _handler([], b"public"))
        port = public.server_address[1]
        try:
            internal = socketserver.ThreadingTCPServer(
                ("127.0.0.1", port), _handler([], b"INTERNAL")
            )
        except OSError:
            public.server_close()
            continue
        break
    else:
        pytest.fail("no port free on both 127.0.0.1 and 127.0.0.2")
    s = Servers(port=port)
    public.RequestHandlerClass = _handler(s.public_hits, b"public")
    internal.RequestHandlerClass = _handler(s.internal_hits, b"INTERNAL")
    for server in (public, internal):
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield s
    for server in (public, internal):
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def proxy() -> Iterator[EgressProxy]:
    # rebind.test answers 127.0.0.2 first, then 127.0.0.1 (an attacker's TTL-0 DNS).
    answers = iter([["127.0.0.2"]] + [["127.0.0.1"]] * 100)
    policy = AddressPolicy.build(networks=["127.0.0.2/32"], resolver=lambda h, p: next(answers))
    with EgressProxy(policy=policy) as p:
        yield p


def exchange(proxy: EgressProxy, data: bytes, *, then: bytes = b"") -> bytes:
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as s:
        s.sendall(data)
        out = b""
        if then:
            while b"\r\n\r\n" not in out:
                out += s.recv(65536)
            s.sendall(then)
        if not then:
            s.shutdown(socket.SHUT_WR)
        while True:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            if not chunk or (then and b"echo:" in out + chunk):
                out += chunk
                break
            out += chunk
        return out


def test_plain_http_is_forwarded_to_the_checked_address(
    proxy: EgressProxy, servers: Servers
) -> None:
    target = f"http://127.0.0.2:{servers.port}/a?b=1"
    out = exchange(
        proxy,
        f"POST {target} HTTP/1.1\r\nHost: 127.0.0.2:{servers.port}\r\n"
        "Proxy-Connection: keep-alive\r\nContent-Length: 5\r\n\r\nhello".encode(),
    )
    assert out.startswith(b"HTTP/1.1 200 OK") and out.endswith(b"public got hello")
    head = servers.public_hits[-1].lower()
    assert head.startswith(b"post /a?b=1 http/1.1")  # origin form
    assert b"proxy-connection" not in head and b"connection: close" in head
    assert proxy.address_of(target) == "127.0.0.2"


def test_internal_targets_get_403_with_the_reason_and_are_recorded(
    proxy: EgressProxy, servers: Servers
) -> None:
    before = len(proxy.refusals)
    for request in (
        f"GET http://127.0.0.1:{servers.port}/ HTTP/1.1\r\nHost: x\r\n\r\n",
        f"GET http://localhost:{servers.port}/ HTTP/1.1\r\nHost: x\r\n\r\n",
        f"CONNECT 127.0.0.1:{servers.port} HTTP/1.1\r\nHost: x\r\n\r\n",
        f"CONNECT [::ffff:127.0.0.1]:{servers.port} HTTP/1.1\r\nHost: x\r\n\r\n",
        f"GET http://[64:ff9b::7f00:1]:{servers.port}/ HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /relative HTTP/1.1\r\nHost: x\r\n\r\n",
    ):
        out = exchange(proxy, request.encode())
        assert out.startswith(b"HTTP/1.1 403 Forbidden"), (request, out)
        assert REFUSED_HEADER.lower().encode() in out.lower()
        assert b"INTERNAL" not in out
    refused = proxy.refusals[before:]
    assert [r.code for r in refused] == ["private-address"] * 5 + ["bad-scheme"]
    assert refused[2].method == "CONNECT" and refused[2].target == f"127.0.0.1:{servers.port}"
    assert servers.internal_hits == []


def test_connect_tunnels_bytes_to_the_allowed_site(proxy: EgressProxy, servers: Servers) -> None:
    out = exchange(
        proxy,
        f"CONNECT 127.0.0.2:{servers.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        then=b"GET /t HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok",
    )
    assert out.startswith(b"HTTP/1.1 200 Connection established\r\n\r\n")
    assert out.endswith(b"public got ok")
    assert servers.internal_hits == []


def test_a_websocket_upgrade_becomes_a_tunnel(proxy: EgressProxy, servers: Servers) -> None:
    out = exchange(
        proxy,
        f"GET http://127.0.0.2:{servers.port}/ws HTTP/1.1\r\nHost: x\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n".encode(),
        then=b"frame",
    )
    assert out.startswith(b"HTTP/1.1 101 Switching Protocols")
    assert b"public says hi" in out and b"echo:frame" in out
    assert b"connection: upgrade" in servers.public_hits[-1].lower()


def test_dns_rebinding_reaches_only_the_first_checked_address(
    proxy: EgressProxy, servers: Servers
) -> None:
    for _ in range(3):
        out = exchange(
            proxy,
            f"GET http://rebind.test:{servers.port}/ HTTP/1.1\r\nHost: r\r\n\r\n".encode(),
        )
        assert out.endswith(b"public got "), out
    assert servers.internal_hits == []
    assert proxy.address_of(f"http://rebind.test:{servers.port}/") == "127.0.0.2"


def test_an_unreachable_site_is_a_502_and_the_proxy_goes_on(
    proxy: EgressProxy, servers: Servers
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.2", 0))
        dead = s.getsockname()[1]
    out = exchange(proxy, f"GET http://127.0.0.2:{dead}/ HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert out.startswith(b"HTTP/1.1 502 Bad Gateway")
    # A request h11 cannot parse closes that connection only.
    assert not exchange(proxy, b"garbage\r\n\r\n").startswith(b"HTTP/1.1 200")
    ok = f"GET http://127.0.0.2:{servers.port}/ HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    assert exchange(proxy, ok).startswith(b"HTTP/1.1 200 OK")
    assert proxy.chromium_args() == (
        f"--proxy-server=http://127.0.0.1:{proxy.port}",
        "--proxy-bypass-list=<-loopback>",
    )
