"""Writing a capture folder: raw and rendered HTML, the WARC, the WACZ and capture.json.

The WARC (ISO 28500, see :mod:`._warc`) is written to a work file while being hashed, then
packaged by py-wacz (:mod:`._wacz`); the WARC's hash must equal the one py-wacz lists in
``datapackage.json``, and only the WACZ is kept in the folder.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from copyseal.capture._assemble import Assembler, now_warc_date
from copyseal.capture._files import HashingFile, in_thread
from copyseal.capture._recorder import warc_date
from copyseal.capture._wacz import WACZ_MEDIA_TYPE, package_wacz, wacz_version
from copyseal.capture._warc import DECODED_FIELD, PageWarcWriter
from copyseal.capture.result import LAYOUT, Capture, summary_bytes
from copyseal.errors import CaptureError

__all__ = ["write_capture"]


async def write_capture(asm: Assembler, *, dest: Path, total_start: float) -> Capture:
    """Write raw and rendered HTML, the WARC, the WACZ and ``capture.json``; the Capture.

    The work is hashing, gzip, zip and fsync, all done in a worker thread: the event loop
    stays free for the browser work of the other pages captured at the same time.
    """
    return await in_thread(_write_files, asm, dest, total_start)


def _write_files(asm: Assembler, dest: Path, total_start: float) -> Capture:
    main = asm.main_entry
    if main is None or main.body_error:
        asm.errors.append(
            "the main document's body was not available: page/raw.html is missing"
            + (f" ({main.body_error})" if main and main.body_error else "")
        )
    else:
        ctype = dict((k.lower(), v) for k, v in main.response_headers).get("content-type")
        asm.files.write(
            LAYOUT["raw-html"], main.body, media_type=ctype or "text/html", role="raw-html"
        )
    asm.files.write(LAYOUT["dom"], asm.dom, media_type="text/html; charset=utf-8", role="dom")
    asm.resources.append(
        (f"urn:copyseal:dom:{asm.final_url}", "text/html; charset=utf-8", asm.dom, now_warc_date())
    )
    with asm.timer("warc"):
        warc_facts, page_date = _write_warc(asm)
    with asm.timer("wacz"):
        work = asm.tmp / ".work"
        wacz_path = asm.tmp / LAYOUT["wacz"]
        wacz_facts = package_wacz(
            work / warc_facts["file"],
            wacz_path,
            page_url=asm.final_url,
            page_date=page_date,
            page_id=asm.capture_id,
            title=str(asm.page_facts.get("title") or asm.final_url),
        )
        if wacz_facts["warc_hash_in_datapackage"] != "sha256:" + warc_facts["sha256"]:
            raise CaptureError(f"the WARC of {asm.url} changed while it was packaged")
        asm.files.hash_existing(LAYOUT["wacz"], media_type=WACZ_MEDIA_TYPE, role="wacz")
        for p in work.iterdir():
            p.unlink()
        work.rmdir()
    asm.timer.phases["total"] = round(time.perf_counter() - total_start, 4)
    facts = asm.facts()
    facts["warc"] = warc_facts
    facts["wacz"] = {k: v for k, v in wacz_facts.items() if k != "members"} | {
        "py_wacz": wacz_version(),
        "members": wacz_facts["members"],
    }
    capture = Capture(
        capture_id=asm.capture_id,
        url=asm.url,
        final_url=asm.final_url,
        folder=dest,
        started_at=asm.started,
        finished_at=datetime.now(UTC),
        artefacts=tuple(asm.files.artefacts),
        facts=facts,
        timings=dict(asm.timer.phases),
        errors=tuple(asm.errors),
    )
    (asm.tmp / LAYOUT["summary"]).write_bytes(summary_bytes(capture))
    return capture


def _write_warc(asm: Assembler) -> tuple[dict[str, Any], str]:
    from copyseal import __version__

    work = asm.tmp / ".work"
    work.mkdir()
    name = f"{asm.capture_id}.warc.gz"
    main_id: str | None = None
    page_date = ""
    with HashingFile(work / name) as out:
        writer = PageWarcWriter(out)
        writer.write_warcinfo(
            filename=name,
            date=warc_date(asm.started.timestamp()),
            fields={
                "software": f"copyseal/{__version__} (warcio)",
                "format": "WARC File Format 1.1",
                "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
                "description": f"copyseal capture {asm.capture_id} of {asm.url}",
                "isPartOf": asm.capture_id,
                "robots": "ignore (evidence capture of a single page)",
                "payload-note": (
                    f"bodies are stored as the browser decoded them; see {DECODED_FIELD}"
                ),
            },
        )
        for entry, exchange, _hop in asm.exchanges:
            record_id = writer.write_exchange(exchange)
            if entry is asm.main_entry:
                main_id, page_date = record_id, exchange.date
        for exchange in asm.fetched:
            writer.write_exchange(exchange)
        for uri, media, data, date in asm.resources:
            writer.write_resource(uri, data, media_type=media, date=date, concurrent_to=main_id)
        described = {"capture_id": asm.capture_id, "errors": asm.errors, **asm.facts()}
        metadata = json.dumps(described, sort_keys=True, ensure_ascii=False).encode()
        writer.write_metadata(
            f"urn:copyseal:capture-facts:{asm.final_url}",
            metadata,
            media_type="application/json",
            date=now_warc_date(),
            refers_to=main_id,
            refers_to_uri=asm.final_url,
        )
        writer.close()
    if main_id is None:
        raise CaptureError(f"cannot capture {asm.url}: the main document was not recorded")
    facts = {
        "file": name,
        "in_wacz": f"archive/{name}",
        "sha256": out.hexdigest(),
        "size": out.size,
        "records": writer.records,
        "warc_version": "WARC/1.1",
        "page_record_id": main_id,
        "page_date": page_date,
        "digest_algorithm": "sha256 (hex)",
        "decoded_bodies": (
            f"bodies are the browser's decoded bodies; undone codings are listed in "
            f"{DECODED_FIELD} and the original headers kept as X-Archive-Orig-*"
        ),
    }
    return facts, page_date
