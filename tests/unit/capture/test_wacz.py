"""WACZ packaging: the page survives, and a wrong ts is caught (py-wacz drops it silently)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from copyseal.capture._files import HashingFile
from copyseal.capture._wacz import package_wacz
from copyseal.capture._warc import HttpExchange, PageWarcWriter
from copyseal.errors import CaptureError

URL = "http://example.test/page"
DATE = "2026-01-02T03:04:05.123456Z"


def _warc(tmp_path: Path) -> Path:
    path = tmp_path / "cap.warc.gz"
    body = b"<html><title>x</title></html>"
    with HashingFile(path) as out:
        PageWarcWriter(out).write_exchange(
            HttpExchange(
                url=URL,
                method="GET",
                http_version="HTTP/1.1",
                request_headers=(("Host", "example.test"),),
                status=200,
                reason="OK",
                response_headers=(("Content-Type", "text/html"),),
                body=body,
                date=DATE,
            )
        )
    return path


def test_package_keeps_the_page(tmp_path: Path) -> None:
    out = tmp_path / "a.wacz"
    facts = package_wacz(
        _warc(tmp_path), out, page_url=URL, page_date=DATE, page_id="p1", title="T"
    )
    with zipfile.ZipFile(out) as z:
        pages = [json.loads(x) for x in z.read("pages/pages.jsonl").splitlines()]
    assert pages[1]["url"] == URL and pages[1]["id"] == "p1" and pages[1]["title"] == "T"
    assert facts["warc_member"] == "archive/cap.warc.gz"
    assert str(facts["warc_hash_in_datapackage"]).startswith("sha256:")


def test_a_ts_that_is_not_the_warc_date_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="dropped the page"):
        package_wacz(
            _warc(tmp_path),
            tmp_path / "b.wacz",
            page_url=URL,
            page_date="2026-01-02T03:04:06Z",
            page_id="p1",
            title="T",
        )
