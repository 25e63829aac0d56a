"""Writing the WARC of one page load (ISO 28500:2017, WARC/1.1) with warcio, in one pass.

Record types (ISO 28500 §6): one ``warcinfo`` (§6.2) first; a ``response`` (§6.4) and a
``request`` (§6.5) record per HTTP exchange, linked by ``WARC-Concurrent-To`` (§5.7);
``resource`` records (§6.6) for the screenshots and the rendered DOM; one ``metadata``
record (§6.7) with the capture facts, ``WARC-Refers-To`` the page's response (§5.11).

Digests (§5.8, §5.9) are ``sha256:`` + lower-case hex, computed here from the bytes handed
to the writer, so warcio never buffers a record a second time; the file itself is hashed
as it is written (:class:`~copyseal.capture._files.HashingFile`).

Decoded bodies. The browser hands over bodies after undoing ``Content-Encoding`` (gzip,
br, ...) and ``Transfer-Encoding`` (chunked), so the stored payload is not the wire bytes
and those headers no longer describe it. We never pretend otherwise: each such header is
kept under the name ``X-Archive-Orig-<Name>`` (the pywb convention), a ``Content-Length``
giving the stored length is added when the original one no longer holds, and the record
carries the named field ``WARC-Copyseal-Decoded`` (ISO 28500 §5.1 allows extension fields)
listing what was undone, e.g. ``content-encoding=gzip; transfer-encoding=chunked``.
HTTP/2 and HTTP/3 exchanges are written in their HTTP/1.1 form with ``WARC-Protocol``
fields (``h2``, ``tls/1.3``), as proposed in the IIPC "WARC extensions for HTTP/2".

Compression. Each record is one gzip member (ISO 28500 Annex D), deflated at level 9 as
warcio does, except records whose payload is compressed already (PNG, JPEG, WebP, fonts,
...): deflating those again saved under 2 % of their size and took most of the time of
writing a page's WARC (63 of 67 ms for the photos and screenshots of a blog page), so
their gzip members hold stored deflate blocks (level 0). Every reader decompresses both
alike; the record bytes, and so the digests, are the same.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from copyseal.capture._files import HashingFile

__all__ = [
    "DECODED_FIELD",
    "HttpExchange",
    "PageWarcWriter",
    "describe_payload",
    "is_compressed_media",
    "sha256_digest",
]

#: Extension field naming the transfer codings undone before the payload was stored.
DECODED_FIELD = "WARC-Copyseal-Decoded"
_ORIG_PREFIX = "X-Archive-Orig-"
#: Codings a browser undoes before handing over a body.
_UNDONE = ("content-encoding", "transfer-encoding")
#: Media types whose bytes are compressed already (their records are stored, not deflated).
_COMPRESSED_MEDIA = frozenset(
    {
        "image/png",
        "image/apng",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/heic",
        "image/heif",
        "image/jxl",
        "font/woff",
        "font/woff2",
        "application/font-woff",
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/wacz",
    }
)
_DEFLATE_LEVEL = 9  # warcio's
_STORE_LEVEL = 0


def is_compressed_media(media_type: str | None) -> bool:
    """True for media types (``image/png``, ``video/mp4``, ...) not worth deflating again."""
    media = (media_type or "").split(";")[0].strip().lower()
    return media in _COMPRESSED_MEDIA or media.startswith(("video/", "audio/"))


def sha256_digest(*parts: bytes) -> str:
    """The WARC digest label ``sha256:<hex>`` of the concatenated parts."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return "sha256:" + h.hexdigest()


@dataclass(frozen=True, kw_only=True)
class HttpExchange:
    """One request and its response as the browser reported them."""

    url: str
    method: str
    #: ``HTTP/1.0`` or ``HTTP/1.1`` as on the wire; HTTP/2 and /3 are written as HTTP/1.1.
    http_version: str
    request_headers: tuple[tuple[str, str], ...]
    request_body: bytes = b""
    status: int
    reason: str
    response_headers: tuple[tuple[str, str], ...]
    #: The body as the browser handed it over (decoded); empty for redirects.
    body: bytes
    #: WARC-Date (§5.4) of both records: when the response started to arrive.
    date: str
    ip_address: str | None = None
    #: WARC-Protocol values, e.g. ``("http/1.1",)`` or ``("h2", "tls/1.3")``.
    protocols: tuple[str, ...] = ()
    #: Extra WARC fields (e.g. a note that copyseal fetched this itself).
    extra_fields: tuple[tuple[str, str], ...] = ()


def describe_payload(
    headers: Sequence[tuple[str, str]], payload_length: int
) -> tuple[list[tuple[str, str]], str | None]:
    """Headers that honestly describe a decoded payload, and the ``WARC-Copyseal-Decoded`` value.

    ``Content-Encoding`` and ``Transfer-Encoding`` (other than ``identity``) are renamed to
    ``X-Archive-Orig-*``; ``Content-Length`` is renamed too when it differs from
    ``payload_length`` (or when a coding was undone) and a correct one is appended. Header
    order and every other header are kept. Returns ``(headers, None)`` when nothing changed.
    """
    out: list[tuple[str, str]] = []
    undone: list[str] = []
    lengths = [v for n, v in headers if n.lower() == "content-length"]
    for name, value in headers:
        low = name.lower()
        if low in _UNDONE and value.strip().lower() not in ("", "identity"):
            out.append((_ORIG_PREFIX + name, value))
            undone.append(f"{low}={value.strip()}")
        else:
            out.append((name, value))
    length_ok = len(lengths) == 1 and lengths[0].strip() == str(payload_length)
    if undone or (lengths and not length_ok):
        fixed: list[tuple[str, str]] = []
        for name, value in out:
            if name.lower() == "content-length":
                fixed.append((_ORIG_PREFIX + name, value))
            else:
                fixed.append((name, value))
        if lengths and not length_ok:
            undone.append("content-length=" + ",".join(v.strip() for v in lengths))
        fixed.append(("Content-Length", str(payload_length)))
        return fixed, "; ".join(undone)
    return out, None


class _GzipMember:
    """One gzip member (RFC 1952) for one record, at a chosen deflate level.

    warcio ends every record with ``flush()``, which ends the member, as its own
    ``GzippingWrapper`` does (that one always deflates at level 9).
    """

    def __init__(self, out: HashingFile, level: int) -> None:
        self._out = out
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS + 16)

    def write(self, data: bytes) -> None:
        self._out.write(self._compressor.compress(data))

    def flush(self) -> None:
        self._out.write(self._compressor.flush())
        self._out.flush()


class PageWarcWriter:
    """Writes the records of one page load to a gzip-per-record WARC/1.1 file."""

    def __init__(self, out: HashingFile) -> None:
        self._out = out
        # gzip=False: each record gets its own _GzipMember (see _write).
        self._writer = WARCWriter(out, gzip=False, warc_version="1.1")
        self.records = 0

    def write_warcinfo(self, *, filename: str, date: str, fields: Mapping[str, str]) -> str:
        """The ``warcinfo`` record (§6.2): ``application/warc-fields`` describing the file."""
        body = "".join(f"{k}: {v}\r\n" for k, v in fields.items() if v).encode("utf-8")
        return self._write(
            "",
            "warcinfo",
            body,
            content_type="application/warc-fields",
            fields={"WARC-Filename": filename, "WARC-Date": date},
        )

    def write_exchange(self, ex: HttpExchange) -> str:
        """A ``response`` then a ``request`` record; returns the response's record id."""
        headers, decoded = describe_payload(ex.response_headers, len(ex.body))
        resp_http = StatusAndHeaders(
            f"{ex.status} {ex.reason}".rstrip() + ("" if ex.reason else " "),
            headers,
            protocol=ex.http_version,
        )
        common: dict[str, str] = {"WARC-Date": ex.date}
        if ex.ip_address:
            common["WARC-IP-Address"] = ex.ip_address
        resp_fields = dict(common)
        if decoded:
            resp_fields[DECODED_FIELD] = decoded
        resp_fields.update(dict(ex.extra_fields))
        payload_type = next((v for n, v in headers if n.lower() == "content-type"), None)
        resp_id = self._write(
            ex.url,
            "response",
            ex.body,
            http_headers=resp_http,
            fields=resp_fields,
            multi=[("WARC-Protocol", p) for p in ex.protocols],
            compressed=is_compressed_media(payload_type),
        )
        path = _request_target(ex.url)
        req_http = StatusAndHeaders(
            f"{ex.method} {path} {ex.http_version}", list(ex.request_headers), is_http_request=True
        )
        req_fields = dict(common)
        req_fields["WARC-Concurrent-To"] = resp_id
        self._write(
            ex.url,
            "request",
            ex.request_body,
            http_headers=req_http,
            fields=req_fields,
            multi=[("WARC-Protocol", p) for p in ex.protocols],
        )
        return resp_id

    def write_resource(
        self,
        uri: str,
        data: bytes,
        *,
        media_type: str,
        date: str,
        concurrent_to: str | None = None,
    ) -> str:
        """A ``resource`` record (§6.6), e.g. a screenshot under ``urn:copyseal:...``."""
        fields = {"WARC-Date": date}
        if concurrent_to:
            fields["WARC-Concurrent-To"] = concurrent_to
        return self._write(
            uri,
            "resource",
            data,
            content_type=media_type,
            fields=fields,
            compressed=is_compressed_media(media_type),
        )

    def write_metadata(
        self,
        uri: str,
        data: bytes,
        *,
        media_type: str,
        date: str,
        refers_to: str | None,
        refers_to_uri: str | None = None,
    ) -> str:
        """A ``metadata`` record (§6.7) describing the record ``refers_to`` (§5.11), whose
        target URI is ``refers_to_uri`` (``WARC-Refers-To-Target-URI``, §5.12).

        ``uri`` should not be the described page's URL: replay tools (pywb, wabac.js behind
        ReplayWeb.page) index every record by its target URI and would serve the newest
        record at that URL — this one — instead of the page.
        """
        fields = {"WARC-Date": date}
        if refers_to:
            fields["WARC-Refers-To"] = refers_to
        if refers_to_uri:
            fields["WARC-Refers-To-Target-URI"] = refers_to_uri
        return self._write(uri, "metadata", data, content_type=media_type, fields=fields)

    def close(self) -> None:
        self._out.flush()

    def _write(
        self,
        uri: str,
        rec_type: str,
        payload: bytes,
        *,
        http_headers: Any = None,
        content_type: str = "",
        fields: Mapping[str, str],
        multi: Sequence[tuple[str, str]] = (),
        compressed: bool = False,
    ) -> str:
        head = b""
        if http_headers is not None:
            http_headers.compute_headers_buffer()
            head = http_headers.headers_buff
        payload_digest = sha256_digest(payload)
        # Without an HTTP head the block is the payload: one hash serves both (§5.8, §5.9).
        digests = {"WARC-Block-Digest": sha256_digest(head, payload) if head else payload_digest}
        if rec_type not in ("warcinfo",):
            digests["WARC-Payload-Digest"] = payload_digest
        record = self._writer.create_warc_record(
            uri,
            rec_type,
            payload=BytesIO(payload),
            length=len(payload),
            warc_content_type=content_type,
            warc_headers_dict={**fields, **digests},
            http_headers=http_headers,
        )
        for name, value in multi:
            record.rec_headers.add_header(name, value)
        self._writer.out = _GzipMember(self._out, _STORE_LEVEL if compressed else _DEFLATE_LEVEL)
        self._writer.write_record(record)
        self.records += 1
        record_id: str = record.rec_headers.get_header("WARC-Record-ID")
        return record_id


def _request_target(url: str) -> str:
    """The request-target of an origin-form request line (RFC 9112 §3.2.1)."""
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return target
