"""The witness's HTTP face (C2SP ``tlog-witness``), on the standard library's HTTP server.

- ``POST /add-checkpoint``: a submission; answers as :class:`~copyseal.witness.service.Witness`
  decides (``200`` cosignature lines, ``409`` with ``text/x.tlog.size``, ``400`` / ``403`` /
  ``404`` / ``422`` with a one-line reason).
- ``GET /<lowercase hex SHA-256 of the origin>/checkpoint``: the latest cosigned checkpoint
  (the log's verified signatures and the witness's cosignature), for monitors; ``404`` when
  the witness never cosigned one.

Bounded: request bodies over :data:`MAX_BODY` are refused (``413``) unread, every
connection has a socket timeout, and connections beyond :data:`MAX_CONNECTIONS` at once
are closed unanswered. Keys are never logged; requests are logged at debug level.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from copyseal.witness.protocol import ADD_CHECKPOINT, SIZE_CONTENT_TYPE, format_size
from copyseal.witness.service import Refused, Witness

__all__ = ["MAX_BODY", "WitnessHTTPServer", "serving"]

logger = logging.getLogger(__name__)

#: Largest request body accepted: 63 proof lines and a checkpoint with many signatures.
MAX_BODY = 64 * 1024
#: Seconds a connection may stay idle or take to send its request.
TIMEOUT = 10.0
#: Connections served at once (each holds a thread).
MAX_CONNECTIONS = 32
_TEXT = "text/plain; charset=utf-8"


class _Handler(BaseHTTPRequestHandler):
    server: WitnessHTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive, as tlog-witness recommends
    timeout = TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("witness %s " + format, self.address_string(), *args)

    def _reply(
        self, status: int, body: bytes, content_type: str = _TEXT, *, close: bool = False
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if close:  # a request body left unread: the connection cannot be reused
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/" + ADD_CHECKPOINT:
            self._reply(HTTPStatus.NOT_FOUND, b"not found\n", close=True)
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._reply(HTTPStatus.LENGTH_REQUIRED, b"a Content-Length is required\n", close=True)
            return
        if not 0 <= length <= MAX_BODY:
            self._reply(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"request body too large\n", close=True
            )
            return
        body = self.rfile.read(length)
        try:
            lines = self.server.witness.add_checkpoint(body)
        except Refused as e:
            if e.status == HTTPStatus.CONFLICT and e.size is not None:
                self._reply(e.status, format_size(e.size), SIZE_CONTENT_TYPE)
            else:
                self._reply(e.status, f"{e}\n".encode())
            return
        except Exception:  # one bad request must not stop the witness
            logger.exception("witness failed on a request")
            self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, b"internal error\n")
            return
        self._reply(HTTPStatus.OK, lines.encode("utf-8"))

    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/")
        if len(parts) == 2 and parts[1] == "checkpoint":
            for origin in self.server.witness.origins:
                if hashlib.sha256(origin.encode("utf-8")).hexdigest() == parts[0]:
                    note = self.server.witness.latest(origin)
                    if note is not None:
                        self._reply(HTTPStatus.OK, note.encode("utf-8"))
                        return
        self._reply(HTTPStatus.NOT_FOUND, b"not found\n")


class WitnessHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that answers for ``witness``."""

    daemon_threads = True

    def __init__(self, witness: Witness, host: str = "127.0.0.1", port: int = 0) -> None:
        self.witness = witness
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            logger.warning("witness busy: %d connections open", MAX_CONNECTIONS)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    @property
    def url(self) -> str:
        """The witness's URL prefix, e.g. ``http://127.0.0.1:7380/``."""
        address, port = self.server_address[:2]
        host = address.decode("ascii") if isinstance(address, bytes) else address
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"


@contextmanager
def serving(witness: Witness, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run a witness in a background thread; yields its URL, stops it on exit."""
    server = WitnessHTTPServer(witness, host, port)
    thread = threading.Thread(target=server.serve_forever, name="witness", daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
