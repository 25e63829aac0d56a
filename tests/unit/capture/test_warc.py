"""The WARC writer: records round-trip through warcio with correct digests (ISO 28500)."""

from __future__ import annotations

import gzip
import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from copyseal.capture._files import HashingFile
from copyseal.capture._warc import (
    DECODED_FIELD,
    HttpExchange,
    PageWarcWriter,
    describe_payload,
    is_compressed_media,
    sha256_digest,
)

HTML = b"<!doctype html><title>t</title><p>hello</p>"


def _exchange(**kw: object) -> HttpExchange:
    base: dict[str, object] = {
        "url": "http://example.test/a?b=1",
        "method": "GET",
        "http_version": "HTTP/1.1",
        "request_headers": (("Host", "example.test"), ("User-Agent", "t")),
        "status": 200,
        "reason": "OK",
        "response_headers": (("Content-Type", "text/html"), ("Content-Length", str(len(HTML)))),
        "body": HTML,
        "date": "2026-01-02T03:04:05.123456Z",
        "ip_address": "192.0.2.7",
        "protocols": ("http/1.1",),
    }
    base.update(kw)
    return HttpExchange(**base)  # type: ignore[arg-type]


def _write(tmp_path: Path, *exchanges: HttpExchange) -> tuple[Path, HashingFile, list[str]]:
    path = tmp_path / "t.warc.gz"
    ids = []
    with HashingFile(path) as out:
        w = PageWarcWriter(out)
        ids.append(
            w.write_warcinfo(
                filename="t.warc.gz", date="2026-01-02T03:04:05Z", fields={"software": "x"}
            )
        )
        for ex in exchanges:
            ids.append(w.write_exchange(ex))
        ids.append(
            w.write_resource(
                "urn:copyseal:screenshot-full:http://example.test/",
                b"\x89PNG fake",
                media_type="image/png",
                date="2026-01-02T03:04:06Z",
                concurrent_to=ids[1],
            )
        )
        ids.append(
            w.write_metadata(
                "http://example.test/",
                b'{"a": 1}',
                media_type="application/json",
                date="2026-01-02T03:04:07Z",
                refers_to=ids[1],
            )
        )
    return path, out, ids


def _read(path: Path) -> list[tuple[Any, bytes]]:
    with path.open("rb") as fh:
        return [(r, r.content_stream().read()) for r in ArchiveIterator(fh, check_digests="raise")]


def test_records_round_trip_with_sha256_digests(tmp_path: Path) -> None:
    path, out, ids = _write(tmp_path, _exchange())
    records = _read(path)
    assert [r.rec_type for r, _ in records] == [
        "warcinfo",
        "response",
        "request",
        "resource",
        "metadata",
    ]
    response, body = records[1]
    h = response.rec_headers
    assert body == HTML
    assert h.get_header("WARC-Payload-Digest") == "sha256:" + hashlib.sha256(HTML).hexdigest()
    assert h.get_header("WARC-Block-Digest").startswith("sha256:")
    assert h.get_header("WARC-IP-Address") == "192.0.2.7"
    assert h.get_header("WARC-Protocol") == "http/1.1"
    assert h.get_header("WARC-Date") == "2026-01-02T03:04:05.123456Z"
    assert h.get_header("WARC-Record-ID") == ids[1]
    assert h.get_header(DECODED_FIELD) is None
    request = records[2][0].rec_headers
    assert request.get_header("WARC-Concurrent-To") == ids[1]
    assert records[2][0].http_headers.protocol == "GET"
    assert records[2][0].http_headers.statusline == "/a?b=1 HTTP/1.1"
    assert records[3][1] == b"\x89PNG fake"
    assert records[3][0].rec_headers.get_header("Content-Type") == "image/png"
    assert records[4][0].rec_headers.get_header("WARC-Refers-To") == ids[1]
    # The file's own hash was computed while writing.
    assert out.hexdigest() == hashlib.sha256(path.read_bytes()).hexdigest()
    assert out.size == path.stat().st_size
    assert records[0][0].rec_headers.protocol == "WARC/1.1"


def test_block_digest_covers_http_head_and_payload(tmp_path: Path) -> None:
    path, _, _ = _write(tmp_path, _exchange())
    raw = gzip.decompress(path.read_bytes())
    start = raw.index(b"HTTP/1.1 200 OK\r\n")
    block = raw[start : raw.index(HTML, start) + len(HTML)]
    response = _read(path)[1][0]
    expected = sha256_digest(block)
    assert response.rec_headers.get_header("WARC-Block-Digest") == expected


def test_a_tampered_record_fails_the_digest_check(tmp_path: Path) -> None:
    path, _, _ = _write(tmp_path, _exchange())
    raw = gzip.decompress(path.read_bytes()).replace(b"hello", b"jello")
    with pytest.raises(Exception, match="digest"):
        for r in ArchiveIterator(io.BytesIO(raw), check_digests="raise"):
            r.content_stream().read()


def test_decoded_body_is_recorded_honestly(tmp_path: Path) -> None:
    headers = (
        ("Content-Type", "text/html"),
        ("Content-Encoding", "gzip"),
        ("Content-Length", "61"),
        ("Vary", "Accept-Encoding"),
    )
    path, _, _ = _write(tmp_path, _exchange(response_headers=headers))
    response, body = _read(path)[1]
    http = response.http_headers
    assert body == HTML
    assert http.get_header("Content-Encoding") is None
    assert http.get_header("X-Archive-Orig-Content-Encoding") == "gzip"
    assert http.get_header("X-Archive-Orig-Content-Length") == "61"
    assert http.get_header("Content-Length") == str(len(HTML))
    assert http.get_header("Vary") == "Accept-Encoding"
    assert (
        response.rec_headers.get_header(DECODED_FIELD) == "content-encoding=gzip; content-length=61"
    )


@pytest.mark.parametrize(
    ("headers", "length", "expected", "note"),
    [
        ([("Content-Length", "5")], 5, [("Content-Length", "5")], None),
        ([("A", "1")], 5, [("A", "1")], None),
        (
            [("Transfer-Encoding", "chunked"), ("A", "1")],
            5,
            [("X-Archive-Orig-Transfer-Encoding", "chunked"), ("A", "1"), ("Content-Length", "5")],
            "transfer-encoding=chunked",
        ),
        (
            [("Content-Encoding", "identity"), ("Content-Length", "5")],
            5,
            [("Content-Encoding", "identity"), ("Content-Length", "5")],
            None,
        ),
        (
            [("Content-Length", "9")],
            5,
            [("X-Archive-Orig-Content-Length", "9"), ("Content-Length", "5")],
            "content-length=9",
        ),
        (
            [("content-encoding", "br"), ("content-length", "3")],
            5,
            [
                ("X-Archive-Orig-content-encoding", "br"),
                ("X-Archive-Orig-content-length", "3"),
                ("Content-Length", "5"),
            ],
            "content-encoding=br; content-length=3",
        ),
    ],
)
def test_describe_payload(
    headers: list[tuple[str, str]], length: int, expected: list[tuple[str, str]], note: str | None
) -> None:
    assert describe_payload(headers, length) == (expected, note)


def test_http2_is_written_as_http11_with_protocol_fields(tmp_path: Path) -> None:
    ex = _exchange(reason="", protocols=("h2", "tls/1.3"))
    path, _, _ = _write(tmp_path, ex)
    raw = gzip.decompress(path.read_bytes())
    assert b"HTTP/1.1 200 \r\n" in raw  # empty reason phrase keeps its space
    response = _read(path)[1][0]
    values = [v for n, v in response.rec_headers.headers if n == "WARC-Protocol"]
    assert values == ["h2", "tls/1.3"]


def _members(path: Path) -> list[bytes]:
    """The WARC file split into its gzip members (one per record)."""
    import zlib

    data, members = path.read_bytes(), []
    while data:
        d = zlib.decompressobj(zlib.MAX_WBITS + 16)
        d.decompress(data)
        members.append(data[: len(data) - len(d.unused_data)])
        data = d.unused_data
    return members


def test_compressed_payloads_are_stored_and_text_is_deflated(tmp_path: Path) -> None:
    """PNG/JPEG records are gzip members of stored blocks: same bytes, digests, readers."""
    repetitive = b"\x00" * 50_000  # compresses to almost nothing when deflated
    jpeg = _exchange(
        url="http://example.test/i.jpg",
        response_headers=(("Content-Type", "image/jpeg; q=1"),),
        body=repetitive,
    )
    html = _exchange(body=repetitive)
    path = tmp_path / "c.warc.gz"
    with HashingFile(path) as out:
        w = PageWarcWriter(out)
        w.write_exchange(jpeg)
        w.write_exchange(html)
        w.write_resource(
            "urn:copyseal:screenshot-full:x", repetitive, media_type="image/png", date=jpeg.date
        )
        w.write_resource("urn:copyseal:dom:x", repetitive, media_type="text/html", date=jpeg.date)
    sizes = [len(m) for m in _members(path)]
    assert len(sizes) == 6  # response, request, response, request, resource, resource
    assert sizes[0] > 50_000 and sizes[4] > 50_000  # JPEG and PNG: stored
    assert sizes[2] < 1_000 and sizes[5] < 1_000  # HTML: deflated
    records = _read(path)  # check_digests="raise"
    assert [body for _, body in records if body] == [repetitive] * 4
    png = records[4][0].rec_headers
    digest = "sha256:" + hashlib.sha256(repetitive).hexdigest()
    assert png.get_header("WARC-Block-Digest") == png.get_header("WARC-Payload-Digest") == digest


@pytest.mark.parametrize(
    ("media", "stored"),
    [
        ("image/png", True),
        ("IMAGE/JPEG; charset=x", True),
        ("image/webp", True),
        ("video/mp4", True),
        ("font/woff2", True),
        ("image/svg+xml", False),
        ("text/html; charset=utf-8", False),
        ("application/json", False),
        ("", False),
        (None, False),
    ],
)
def test_is_compressed_media(media: str | None, stored: bool) -> None:
    assert is_compressed_media(media) is stored
