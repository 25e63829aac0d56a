"""Recording every request and response of one page load.

Playwright's context events give the exchanges (including redirects and cross-site frames)
with the headers the browser really sent and received, the server address and the body.
A Chrome DevTools Protocol session on the page adds what Playwright does not expose: the
wire protocol (``http/1.1``, ``h2``), the raw HTTP/1.x header block in wire order
(``Network.responseReceivedExtraInfo.headersText``), the TLS cipher and the certificate
chain (``Network.getCertificate``). The two are joined by URL and status, in order.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
import time
from collections import defaultdict, deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from playwright.async_api import BrowserContext, CDPSession, Page, Request, Response
from playwright.async_api import Error as PlaywrightError

from copyseal.capture._warc import HttpExchange
from copyseal.netpolicy import EgressProxy

__all__ = ["NetworkRecorder", "RecordedEntry", "warc_date"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Bodies the DevTools backend keeps per resource and in total (defaults are 5 MB / 100 MB).
_MAX_RESOURCE_BUFFER = 64 * 1024 * 1024
_MAX_TOTAL_BUFFER = 512 * 1024 * 1024


def warc_date(epoch: float) -> str:
    """An ISO 8601 UTC WARC-Date with microseconds (ISO 28500:2017 §5.4 allows fractions)."""
    dt = datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)
    return dt.isoformat(timespec="microseconds") + "Z"


@dataclass(kw_only=True)
class RecordedEntry:
    """One request as it happened (mutable while the page loads)."""

    seq: int
    request: Request
    seen_at: float
    response_at: float | None = None
    response: Response | None = None
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    body_error: str | None = None
    failure: str | None = None
    server_ip: str | None = None
    server_port: int | None = None
    security: dict[str, Any] | None = None
    wire_body_size: int | None = None
    done: bool = False

    @property
    def url(self) -> str:
        return self.request.url

    @property
    def status(self) -> int | None:
        return None if self.response is None else self.response.status

    def start_epoch(self) -> float:
        """When the response began to arrive, by the browser's own timing if it gave one."""
        timing = self.request.timing
        start = timing.get("startTime", -1)
        rs = timing.get("responseStart", -1)
        if start and start > 0 and rs is not None and rs >= 0:
            return (start + rs) / 1000.0
        return self.response_at or self.seen_at


class NetworkRecorder:
    """Listens to one fresh context and its page until :meth:`detach`."""

    def __init__(
        self, context: BrowserContext, page: Page, *, egress: EgressProxy | None = None
    ) -> None:
        self._context = context
        # The egress proxy the browser connects through: the browser reports the proxy's
        # address as every response's server, the proxy knows the real one.
        self._egress = egress
        self._page = page
        self._cdp: CDPSession | None = None
        self.entries: list[RecordedEntry] = []
        self._by_request: dict[int, RecordedEntry] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._inflight = 0
        self._last_change = time.monotonic()
        self._changed = asyncio.Event()
        # DevTools side: requestId -> list of hops (one per response, redirects first).
        self._hops: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._extra: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.notes: list[str] = []

    async def attach(self) -> None:
        self._context.on("request", self._on_request)
        self._context.on("response", self._on_response)
        self._context.on("requestfinished", self._on_finished)
        self._context.on("requestfailed", self._on_failed)
        try:
            self._cdp = await self._context.new_cdp_session(self._page)
            await self._cdp.send(
                "Network.enable",
                {
                    "maxResourceBufferSize": _MAX_RESOURCE_BUFFER,
                    "maxTotalBufferSize": _MAX_TOTAL_BUFFER,
                },
            )
            self._cdp.on("Network.requestWillBeSent", self._cdp_will_be_sent)
            self._cdp.on("Network.responseReceived", self._cdp_response)
            self._cdp.on("Network.responseReceivedExtraInfo", self._cdp_extra)
        except PlaywrightError as e:  # the exchanges are still recorded without it
            self._cdp = None
            self.notes.append(f"DevTools session unavailable ({_first_line(e)})")

    # -- Playwright events -------------------------------------------------------------
    def _on_request(self, request: Request) -> None:
        entry = RecordedEntry(seq=len(self.entries), request=request, seen_at=time.time())
        self.entries.append(entry)
        self._by_request[id(request)] = entry
        self._inflight += 1
        self._touch()

    def _on_response(self, response: Response) -> None:
        entry = self._by_request.get(id(response.request))
        if entry is not None:
            entry.response_at = time.time()

    def _on_finished(self, request: Request) -> None:
        self._off_the_wire(request)
        self._spawn(self._finish(request, None))

    def _on_failed(self, request: Request) -> None:
        self._off_the_wire(request)
        self._spawn(self._finish(request, request.failure or "failed"))

    def _off_the_wire(self, request: Request) -> None:
        """The request is over on the network: the quiet period may start (see wait_idle).

        Its details and body are still being collected (entry.done); :meth:`drain` waits
        for that before anything is written.
        """
        if id(request) in self._by_request:
            self._inflight -= 1
            self._touch()

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finish(self, request: Request, failure: str | None) -> None:
        entry = self._by_request.get(id(request))
        try:
            if entry is None:
                return
            entry.failure = failure
            # The details are independent questions to the browser: ask them at once.
            request_headers, response = await asyncio.gather(
                _quiet(request.headers_array()), request.response()
            )
            if request_headers is not None:
                entry.request_headers = [(h["name"], h["value"]) for h in request_headers]
            entry.response = response
            if response is None:
                return
            want_body = failure is None and not (300 <= response.status < 400)
            headers, addr, details, sizes, body = await asyncio.gather(
                _quiet(response.headers_array()),
                _quiet(response.server_addr()),
                _quiet(response.security_details()),
                _quiet(request.sizes()),
                _body(response) if want_body else _nothing(),
            )
            if headers is not None:
                entry.response_headers = [(h["name"], h["value"]) for h in headers]
            if addr:
                entry.server_ip, entry.server_port = self._server(
                    entry.url, addr["ipAddress"], addr["port"]
                )
            entry.security = dict(details) if details else None
            if sizes is not None:
                entry.wire_body_size = sizes["responseBodySize"]
            if isinstance(body, bytes):
                entry.body = body
            elif isinstance(body, PlaywrightError):
                entry.body_error = _first_line(body)
        finally:
            if entry is not None:
                entry.done = True

    # -- DevTools events ---------------------------------------------------------------
    def _cdp_will_be_sent(self, event: dict[str, Any]) -> None:
        redirect = event.get("redirectResponse")
        if redirect:
            self._hops[event["requestId"]].append(redirect)

    def _cdp_response(self, event: dict[str, Any]) -> None:
        self._hops[event["requestId"]].append(event["response"])

    def _cdp_extra(self, event: dict[str, Any]) -> None:
        self._extra[event["requestId"]].append(event)

    # -- waiting -----------------------------------------------------------------------
    @property
    def cdp(self) -> CDPSession | None:
        """The page's DevTools session (None if it could not be opened)."""
        return self._cdp

    @property
    def inflight(self) -> int:
        return self._inflight

    def _touch(self) -> None:
        self._last_change = time.monotonic()
        self._changed.set()

    async def wait_idle(self, *, idle: float, timeout: float) -> bool:
        """Wait until no request was in flight for ``idle`` seconds; False on timeout.

        In flight means on the network: from the browser's ``request`` event to its
        ``requestfinished`` or ``requestfailed``. Event-driven: it sleeps until the quiet
        period would end, or until a request starts or ends, so it returns as soon as the
        network has been quiet for ``idle`` (not up to a polling interval later), and a
        request that starts during the quiet period always restarts it. Call
        :meth:`drain` after it: the last requests' details may still be being collected.
        """
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            if self._inflight <= 0 and now - self._last_change >= idle:
                return True
            if now >= deadline:
                return False
            self._changed.clear()
            wake = deadline if self._inflight > 0 else min(deadline, self._last_change + idle)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), max(0.0, wake - now))

    async def drain(self, timeout: float) -> None:
        """Let started body downloads finish (bounded)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    def pending(self) -> list[str]:
        return [e.url for e in self.entries if not e.done]

    async def certificate_chain(self, origin: str) -> list[str]:
        """PEM certificates the browser holds for ``origin`` (leaf first), via DevTools."""
        if self._cdp is None:
            return []
        try:
            answer = await self._cdp.send("Network.getCertificate", {"origin": origin})
        except PlaywrightError as e:
            self.notes.append(f"Network.getCertificate failed for {origin} ({_first_line(e)})")
            return []
        return [
            ssl.DER_cert_to_PEM_cert(base64.b64decode(der)) for der in answer.get("tableNames", [])
        ]

    # -- joining -----------------------------------------------------------------------
    def devtools_hops(self) -> dict[tuple[str, int], deque[dict[str, Any]]]:
        """DevTools responses by (url, status), in arrival order, with ``headersText`` joined."""
        table: dict[tuple[str, int], deque[dict[str, Any]]] = defaultdict(deque)
        for rid, hops in self._hops.items():
            extras = list(self._extra.get(rid, ()))
            for hop in hops:
                joined = dict(hop)
                for i, extra in enumerate(extras):
                    if extra.get("statusCode") == hop.get("status"):
                        if extra.get("headersText"):
                            joined["headersText"] = extra["headersText"]
                        del extras[i]
                        break
                table[(hop.get("url", ""), int(hop.get("status", 0)))].append(joined)
        return table

    def exchanges(self) -> list[tuple[RecordedEntry, HttpExchange, dict[str, Any]]]:
        """Each finished HTTP(S) exchange as a WARC-ready value, with its DevTools hop."""
        hops = self.devtools_hops()
        out: list[tuple[RecordedEntry, HttpExchange, dict[str, Any]]] = []
        for entry in sorted(self.entries, key=lambda e: e.seq):
            resp = entry.response
            if resp is None or entry.failure or not entry.done:
                continue
            if urlsplit(entry.url).scheme not in ("http", "https"):
                continue
            queue = hops.get((entry.url, resp.status))
            hop = queue.popleft() if queue else {}
            # Behind the egress proxy, DevTools' remoteIPAddress is the proxy's.
            warc_hop = hop if self._egress is None else {**hop, "remoteIPAddress": None}
            out.append((entry, to_exchange(entry, warc_hop), hop))
        return out

    def _server(self, url: str, ip: str, port: int) -> tuple[str | None, int | None]:
        """The server's address: behind the egress proxy, the one the proxy connected to
        (None for a request the proxy refused or answered itself)."""
        if self._egress is None or port != self._egress.port:
            return ip, port
        real = self._egress.address_of(url)
        if real is None:
            return None, None
        parts = urlsplit(url)
        return real, parts.port or (443 if parts.scheme in ("https", "wss") else 80)


def to_exchange(entry: RecordedEntry, hop: dict[str, Any]) -> HttpExchange:
    """Build the WARC value of one exchange (see :mod:`copyseal.capture._warc`)."""
    resp = entry.response
    assert resp is not None
    protocol = str(hop.get("protocol") or "").lower()
    headers = list(entry.response_headers)
    reason = resp.status_text
    version = "HTTP/1.1"
    text = hop.get("headersText")
    if text:
        parsed = parse_header_block(text)
        if parsed is not None:
            version, _status, reason, headers = parsed
    elif protocol in ("http/1.0", "http/1.1"):
        version = protocol.upper()
    protocols: list[str] = []
    if protocol:
        protocols.append(protocol)
    tls = (entry.security or {}).get("protocol") or (hop.get("securityDetails") or {}).get(
        "protocol"
    )
    if tls:
        protocols.append(str(tls).lower().replace(" ", "/"))
    request_headers = [(n, v) for n, v in entry.request_headers if not n.startswith(":")]
    if not any(n.lower() == "host" for n, _ in request_headers):
        authority = next((v for n, v in entry.request_headers if n == ":authority"), None)
        request_headers.insert(0, ("Host", authority or urlsplit(entry.url).netloc))
    return HttpExchange(
        url=entry.url,
        method=entry.request.method,
        http_version=version,
        request_headers=tuple(request_headers),
        request_body=entry.request.post_data_buffer or b"",
        status=resp.status,
        reason=reason,
        response_headers=tuple(headers),
        body=entry.body,
        date=warc_date(entry.start_epoch()),
        ip_address=entry.server_ip or hop.get("remoteIPAddress") or None,
        protocols=tuple(protocols),
    )


def parse_header_block(text: str) -> tuple[str, int, str, list[tuple[str, str]]] | None:
    """Split a raw HTTP/1.x response head into version, status, reason and headers."""
    lines = text.replace("\r\n", "\n").split("\n")
    first = lines[0].split(" ", 2)
    if len(first) < 2 or not first[0].startswith("HTTP/") or not first[1].isdigit():
        return None
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t" and headers:  # obsolete line folding (RFC 9112 §5.2)
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip(), value.strip()))
    return first[0], int(first[1]), first[2] if len(first) > 2 else "", headers


async def _quiet(call: Awaitable[T]) -> T | None:
    """The answer, or None if the browser could not give it (the page or context is gone)."""
    try:
        return await call
    except PlaywrightError:
        return None


async def _body(response: Response) -> bytes | PlaywrightError:
    try:
        return await response.body()
    except PlaywrightError as e:
        return e


async def _nothing() -> None:
    return None


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [e.__class__.__name__])[0]
