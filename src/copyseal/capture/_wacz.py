"""Packaging the WARC as a WACZ (Web Archive Collection Zipped, WACZ 1.1.1) with py-wacz.

A WACZ (https://specs.webrecorder.net/wacz/1.1.1/) is a ZIP holding the WARC under
``archive/``, a CDXJ index under ``indexes/``, the page list ``pages/pages.jsonl``
(§ "pages.jsonl") and ``datapackage.json`` with the SHA-256 of every file (§ "Data
Package"), plus ``datapackage-digest.json``. ReplayWeb.page opens it as is.

py-wacz matches each page of the page list to a record by URL and *timestamp*; a page whose
``ts`` is not its record's ``WARC-Date`` is silently dropped and ``wacz create`` still
succeeds. So the ``ts`` we pass is exactly the WARC-Date of the page's response record,
and the result is checked: a WACZ without its page is an error, not a warning.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import threading
import zipfile
from pathlib import Path

from copyseal.errors import CaptureError

__all__ = ["WACZ_MEDIA_TYPE", "package_wacz", "wacz_version"]

WACZ_MEDIA_TYPE = "application/wacz"
# py-wacz reports progress with print(); stdout is process-wide, so one packaging at a time.
_STDOUT_LOCK = threading.Lock()


def wacz_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("wacz")


def package_wacz(
    warc: Path,
    out: Path,
    *,
    page_url: str,
    page_date: str,
    page_id: str,
    title: str,
) -> dict[str, object]:
    """Write ``out`` from one WARC with one page; returns facts about the package.

    Raises:
        CaptureError: py-wacz failed or dropped the page.
    """
    from wacz.main import main as wacz_main

    with tempfile.TemporaryDirectory(prefix="copyseal-wacz-") as tmp:
        pages = Path(tmp) / "pages.jsonl"
        header = {"format": "json-pages-1.0", "id": "pages", "title": "Pages"}
        page = {"id": page_id, "url": page_url, "ts": page_date, "title": title}
        pages.write_text(json.dumps(header) + "\n" + json.dumps(page) + "\n", encoding="utf-8")
        args = [
            "create",
            "--output",
            str(out),
            "--pages",
            str(pages),
            "--title",
            title,
            str(warc),
        ]
        printed = io.StringIO()
        with _STDOUT_LOCK, contextlib.redirect_stdout(printed):
            try:
                rc = wacz_main(args)
            except (ValueError, OSError, SystemExit) as e:
                raise CaptureError(f"cannot write the WACZ for {page_url}: {e}") from e
        if rc not in (0, None):
            raise CaptureError(
                f"cannot write the WACZ for {page_url}: py-wacz exited {rc}: {printed.getvalue()}"
            )
    return _check(out, page_url=page_url, warc_name=warc.name)


def _check(out: Path, *, page_url: str, warc_name: str) -> dict[str, object]:
    try:
        with zipfile.ZipFile(out) as z:
            names = set(z.namelist())
            datapackage = json.loads(z.read("datapackage.json"))
            pages = "pages/pages.jsonl"
            lines = z.read(pages).decode("utf-8").splitlines() if pages in names else []
    except (KeyError, zipfile.BadZipFile, ValueError) as e:
        raise CaptureError(f"the WACZ for {page_url} is incomplete: {e}") from e
    listed = [json.loads(line) for line in lines[1:] if line.strip()]
    if not any(p.get("url") == page_url for p in listed):
        raise CaptureError(f"py-wacz dropped the page {page_url} from pages.jsonl")
    member = f"archive/{warc_name}"
    if member not in names:
        raise CaptureError(f"the WACZ for {page_url} lacks {member}")
    resources = {r["path"]: r for r in datapackage.get("resources", [])}
    return {
        "wacz_version": datapackage.get("wacz_version"),
        "software": datapackage.get("software"),
        "warc_member": member,
        "members": sorted(names),
        "warc_hash_in_datapackage": resources.get(member, {}).get("hash"),
        "pages": listed,
    }
