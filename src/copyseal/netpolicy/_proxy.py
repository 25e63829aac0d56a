"""A local egress proxy for copyseal's browsers: every connection obeys the address policy.

Chromium resolves and connects by itself; request interception (Playwright's ``route``)
sees requests but not the address a connection goes to, nor redirects followed inside
iframes or WebSockets. So the browsers get ``--proxy-server`` pointing here, with
``--proxy-bypass-list=<-loopback>`` (Chromium otherwise never proxies loopback names,
https://chromium.googlesource.com/chromium/src/+/HEAD/net/docs/proxy.md). For each
request the proxy resolves the host itself through :meth:`AddressPolicy.pin`, checks every
answer and connects to the checked address: there is no second lookup to rebind.

* ``CONNECT host:port`` (HTTPS and ``wss://``): a byte tunnel after ``200``; TLS stays
  end to end between the browser and the site (nothing is intercepted).
* ``GET http://host/...`` (plain HTTP and ``ws://``): the request is sent in origin form
  with ``Connection: close``; the response is relayed byte for byte, and a ``101
  Switching Protocols`` turns the connection into a tunnel.
* A refused target gets ``403`` with the reason in the ``X-Copyseal-Refused`` header (and
  body), and is recorded in :attr:`EgressProxy.refusals`; an unreachable one gets ``502``.

HTTP/1.1 is parsed and written with ``h11`` (the sans-I/O parser httpx and uvicorn use),
not by hand. The proxy runs its own event loop in a thread, so it serves a browser driven
from any loop (Scrapy's, a capture's) and is started and stopped like a resource.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Final
from urllib.parse import urlsplit

import h11

from copyseal.errors import CopysealError
from copyseal.netpolicy._policy import AddressPolicy, Refusal

__all__ = ["PROXY_ERROR_HEADER", "REFUSED_HEADER", "EgressProxy", "ProxyRefusal"]

log = logging.getLogger(__name__)

#: The response header naming why the proxy refused a request (403).
REFUSED_HEADER: Final = "X-Copyseal-Refused"
#: The response header of the proxy's own 502: why it could not connect to the site.
PROXY_ERROR_HEADER: Final = "X-Copyseal-Proxy-Error"
_HOP_BY_HOP: Final = frozenset(
    {b"proxy-connection", b"proxy-authorization", b"keep-alive", b"connection", b"te"}
)
_CHUNK = 65536
_HEAD_TIMEOUT = 30.0


@dataclass(frozen=True, kw_only=True)
class ProxyRefusal:
    """One request the proxy refused: the target, the reason code and detail, when."""

    method: str
    target: str
    code: str
    detail: str
    at: float

    def to_json(self) -> dict[str, str | float]:
        return {
            "method": self.method,
            "target": self.target,
            "code": self.code,
            "detail": self.detail,
            "at": self.at,
        }


class _Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


class EgressProxy:
    """A CONNECT/HTTP proxy on ``127.0.0.1`` (random port) that enforces a policy.

    Example::

        with EgressProxy(policy=AddressPolicy()) as proxy:
            browser = await chromium.launch(args=[*proxy.chromium_args()])
    """

    def __init__(self, *, policy: AddressPolicy, connect_timeout: float = 30.0) -> None:
        self.policy = policy
        self.connect_timeout = connect_timeout
        #: Requests refused so far (appended from the proxy's thread).
        self.refusals: list[ProxyRefusal] = []
        #: ``host:port`` -> the address the proxy connected to for it (the last one).
        self.upstreams: dict[str, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._port: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- life ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise CopysealError("the egress proxy is not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, for ``--proxy-server``."""
        return f"http://127.0.0.1:{self.port}"

    def chromium_args(self) -> tuple[str, ...]:
        """Chromium flags sending every request through this proxy, loopback included
        (without ``<-loopback>`` Chromium connects to loopback names directly)."""
        return (f"--proxy-server={self.url}", "--proxy-bypass-list=<-loopback>")

    def playwright_proxy(self) -> dict[str, str]:
        """Playwright's ``proxy`` launch option for this proxy: Playwright passes it to
        Chromium and also uses it for ``APIRequestContext`` requests (``context.request``),
        which Chromium's flags do not govern."""
        return {"server": self.url, "bypass": "<-loopback>"}

    def address_of(self, url: str) -> str | None:
        """The address the proxy connected to for ``url``'s host and port, if it did."""
        parts = urlsplit(url)
        try:
            port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
        except ValueError:
            return None
        host = (parts.hostname or "").rstrip(".").lower()
        return self.upstreams.get(f"{host}:{port}")

    def start(self) -> EgressProxy:
        """Listen on 127.0.0.1 (a free port) in a thread of its own; idempotent."""
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._client, "127.0.0.1", 0)
                )
                self._port = int(self._server.sockets[0].getsockname()[1])
            except OSError as e:
                failure.append(e)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="copyseal-egress-proxy", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self._thread = None
            raise CopysealError(f"cannot start the egress proxy on 127.0.0.1: {failure[0]}")
        log.debug("egress proxy on %s", self.url)
        return self

    def close(self) -> None:
        """Stop listening, close every connection, end the thread."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop already stopped
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    def __enter__(self) -> EgressProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- one browser connection ------------------------------------------------------

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError, h11.ProtocolError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception:  # one broken exchange must not stop the proxy
            log.exception("egress proxy: unexpected error")
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        browser = h11.Connection(h11.SERVER)
        request = await asyncio.wait_for(_next_event(browser, reader), _HEAD_TIMEOUT)
        if not isinstance(request, h11.Request):
            return
        method = request.method.decode("ascii", "replace")
        target = request.target.decode("ascii", "replace")
        try:
            if method == "CONNECT":
                host, port = _split_authority(target)
                up_reader, up_writer = await self._open(host, port)
            else:
                parts = urlsplit(target)
                if parts.scheme not in ("http", "ws") or not parts.hostname:
                    raise _Refused(
                        Refusal(code="bad-scheme", detail=f"not a proxy request: {target[:200]}")
                    )
                up_reader, up_writer = await self._open(parts.hostname, parts.port or 80)
        except _Refused as e:
            self._record(method, target, e.refusal)
            await _reply(writer, browser, 403, e.refusal.detail, refused=e.refusal.code)
            await _linger(reader, writer)
            return
        except OSError as e:
            why = "connection refused" if isinstance(e, ConnectionRefusedError) else str(e)
            await _reply(writer, browser, 502, f"cannot connect to {target[:200]}: {why}")
            await _linger(reader, writer)
            return
        try:
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
                up_writer.write(browser.trailing_data[0])
                await _tunnel(reader, writer, up_reader, up_writer)
            else:
                await self._forward(request, browser, reader, writer, up_reader, up_writer)
        finally:
            up_writer.close()
            with contextlib.suppress(Exception):
                await up_writer.wait_closed()

    async def _open(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        found = await self.policy.pin_async(host, port)
        if isinstance(found, Refusal):
            raise _Refused(found)
        last: OSError | None = None
        for address in found.addresses:
            try:
                opened = await asyncio.wait_for(
                    asyncio.open_connection(address, port), self.connect_timeout
                )
            except (OSError, TimeoutError) as e:
                last = e if isinstance(e, OSError) else OSError(f"timed out: {address}")
                continue
            self.upstreams[f"{found.host}:{port}"] = address
            return opened
        raise last or OSError(f"no address for {host}")

    async def _forward(
        self,
        request: h11.Request,
        browser: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        """One plain-HTTP exchange (or a WebSocket upgrade) in origin form."""
        parts = urlsplit(request.target.decode("ascii", "replace"))
        origin_form = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        upgrade = any(k == b"upgrade" for k, _ in request.headers)
        headers = [(k, v) for k, v in request.headers if k not in _HOP_BY_HOP]
        headers.append((b"connection", b"upgrade" if upgrade else b"close"))
        site = h11.Connection(h11.CLIENT)
        up_writer.write(
            site.send(
                h11.Request(
                    method=request.method,
                    target=origin_form.encode("ascii"),
                    headers=headers,
                    http_version=b"1.1",
                )
            )
            or b""
        )
        # The request body, as h11 frames it (Content-Length or chunked).
        while True:
            event = await _next_event(browser, reader)
            if isinstance(event, h11.Data):
                up_writer.write(site.send(h11.Data(data=event.data)) or b"")
            elif isinstance(event, h11.EndOfMessage):
                up_writer.write(site.send(h11.EndOfMessage()) or b"")
                break
            else:
                return
        await up_writer.drain()
        # The response, relayed byte for byte; h11 only tells where it ends.
        while True:
            chunk = await up_reader.read(_CHUNK)
            if chunk:
                writer.write(chunk)
                await writer.drain()
            site.receive_data(chunk)
            while True:
                event = site.next_event()
                if event is h11.NEED_DATA:
                    break
                if isinstance(event, h11.InformationalResponse) and event.status_code == 101:
                    up_writer.write(browser.trailing_data[0])
                    pending = site.trailing_data[0]
                    if pending:
                        writer.write(pending)
                    await _tunnel(reader, writer, up_reader, up_writer)
                    return
                if isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                    return
                if event is h11.PAUSED:
                    return
            if not chunk:
                return

    def _record(self, method: str, target: str, refusal: Refusal) -> None:
        self.refusals.append(
            ProxyRefusal(
                method=method,
                target=target[:2000],
                code=refusal.code,
                detail=refusal.detail,
                at=time.time(),
            )
        )
        # Chromium's own service requests go to .invalid hosts (copyseal.capture.session's
        # flags): a few at every browser start, recorded but not worth an operator's log.
        invalid = _target_host(method, target).endswith(".invalid")
        log.log(
            logging.DEBUG if invalid else logging.INFO,
            "egress proxy refused %s %s: %s",
            method,
            target[:200],
            refusal.detail,
        )


def _target_host(method: str, target: str) -> str:
    """The host a proxy request names (``host:port`` for CONNECT, else a URL), lower case."""
    try:
        parts = urlsplit(f"//{target}" if method == "CONNECT" else target)
    except ValueError:  # a malformed bracketed host ("[", "Invalid IPv6 URL")
        return ""
    return (parts.hostname or "").rstrip(".")


def _split_authority(target: str) -> tuple[str, int]:
    parts = urlsplit(f"//{target}")
    try:
        port = parts.port or 443
    except ValueError as e:
        raise _Refused(Refusal(code="no-host", detail=f"bad CONNECT target {target!r}")) from e
    if not parts.hostname:
        raise _Refused(Refusal(code="no-host", detail=f"bad CONNECT target {target!r}"))
    return parts.hostname, port


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> object:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        conn.receive_data(await reader.read(_CHUNK))


async def _reply(
    writer: asyncio.StreamWriter,
    conn: h11.Connection,
    status: int,
    text: str,
    *,
    refused: str | None = None,
) -> None:
    body = text.encode("utf-8", "replace") + b"\n"
    detail = text.encode("ascii", "replace")[:500]
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        (b"cache-control", b"no-store"),
    ]
    if refused is not None:
        headers.append((REFUSED_HEADER.encode(), refused.encode("ascii") + b"; " + detail))
    else:
        headers.append((PROXY_ERROR_HEADER.encode(), detail))
    with contextlib.suppress(h11.LocalProtocolError):
        reason = b"Forbidden" if status == 403 else b"Bad Gateway"
        response = h11.Response(status_code=status, headers=headers, reason=reason)
        writer.write(conn.send(response) or b"")
        writer.write(conn.send(h11.Data(data=body)) or b"")
        writer.write(conn.send(h11.EndOfMessage()) or b"")
        await writer.drain()


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Close gracefully after a reply with ``connection: close`` (RFC 9112 §9.6): send FIN,
    then read and drop what the browser still sends, for at most a second. Closing a socket
    with unread input makes the kernel send RST, and a client that gets the RST before it
    has read the reply reports the request as aborted instead of showing the 403."""
    with contextlib.suppress(OSError, RuntimeError):
        if writer.can_write_eof():
            writer.write_eof()
    with contextlib.suppress(OSError, ConnectionError, TimeoutError):
        async with asyncio.timeout(1.0):
            while await reader.read(_CHUNK):
                pass


async def _tunnel(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    """Copy bytes both ways until either side closes."""

    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await src.read(_CHUNK):
                dst.write(chunk)
                await dst.drain()
        with contextlib.suppress(OSError, RuntimeError):
            if dst.can_write_eof():
                dst.write_eof()

    await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
