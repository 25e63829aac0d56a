"""What a visit's bundle holds besides the page's capture (``data/revisit/`` and
``data/moved-page/``), and the first capture's copy it is compared with.

The first capture's copy is the image the match's first bundle kept (``captured_image``
in its manifest), read through the evidence store (a path from the database is only
followed inside the store) and matched again, so both copies are compared through the
same matcher.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from copyseal.bundle import EvidenceFile
from copyseal.capture import Capture
from copyseal.errors import CopysealError, RevisitError
from copyseal.match.decode import sniff
from copyseal.revisit._compare import side_by_side
from copyseal.revisit._page import PageImage, Sighting, decode_bytes, find_work
from copyseal.revisit._select import KnownUse
from copyseal.workspace import Workspace

if TYPE_CHECKING:
    from copyseal.registry import WorkMatcher

__all__ = ["MATCH_LOCK", "first_copy", "original_bytes", "visit_files"]

log = logging.getLogger(__name__)

#: The matcher is used from one thread at a time (WorkMatcher's contract).
MATCH_LOCK = threading.Lock()


def _image_file(name: str, data: bytes) -> EvidenceFile:
    fmt = (sniff(data) or "bin").lower()
    ext = {"jpeg": "jpg"}.get(fmt, fmt)
    media = f"image/{fmt}" if fmt != "bin" else "application/octet-stream"
    return EvidenceFile(name=f"{name}.{ext}", media_type=media, data=data)


def original_bytes(ws: Workspace, work_id: str) -> bytes:
    """The registered original of ``work_id``."""
    from copyseal.db.schema.works import Work
    from copyseal.registry import original_path

    with Session(ws.engine) as db:
        work = db.get(Work, work_id)
        if work is None:
            raise RevisitError(f"work {work_id}: not registered")
        return original_path(ws, work.sha256).read_bytes()


def first_copy(ws: Workspace, matcher: WorkMatcher, use: KnownUse) -> tuple[bytes, Sighting] | None:
    """The first capture's copy of the work and its match (None: no sealed first capture
    holds it)."""
    if not use.first_bundle_path:
        return None
    try:
        folder = ws.store.locate(use.first_bundle_path)
        manifest = json.loads((folder / "manifest.json").read_bytes())
    except (CopysealError, OSError, ValueError):
        return None
    for entry in (manifest.get("match") or {}).get("matches", []):
        work = entry.get("work") or {}
        image = entry.get("captured_image")
        if work.get("work_id") != use.work_id or not isinstance(image, str):
            continue
        try:
            data = (folder / image).read_bytes()
        except OSError:
            continue
        url = str(entry.get("image_url", ""))
        with MATCH_LOCK:
            found = find_work(matcher, use.work_id, iter([PageImage(url, data)]), prefer=url)
        if found is not None:
            return data, found
    return None


def _overlay(ws: Workspace, matcher: WorkMatcher, work_id: str, seen: Sighting) -> bytes | None:
    from copyseal.match import render_overlay

    work = decode_bytes(matcher, original_bytes(ws, work_id))
    if work is None:
        return None
    try:
        return render_overlay(work, seen.image, seen.match)
    except (CopysealError, ValueError) as e:
        log.warning("no overlay for %s: %s", work_id, e)
        return None


def visit_files(
    ws: Workspace,
    matcher: WorkMatcher,
    use: KnownUse,
    *,
    seen: Sighting | None,
    first: tuple[bytes, Sighting] | None,
    moved_page: Capture | None,
    report: dict[str, Any],
) -> list[EvidenceFile]:
    """``revisit/visit.json`` (``report``, with ``files`` naming the others), the image
    found, its overlay, the first capture's copy, the side-by-side comparison, and a
    linked page's capture under ``moved-page/``."""
    files: list[EvidenceFile] = []
    names: dict[str, str] = {}
    if seen is not None:
        files.append(_image_file("revisit/found-image", seen.data))
        names["found_image"] = f"data/{files[-1].name}"
        overlay = _overlay(ws, matcher, use.work_id, seen)
        if overlay is not None:
            files.append(
                EvidenceFile(name="revisit/overlay.png", media_type="image/png", data=overlay)
            )
            names["overlay"] = "data/revisit/overlay.png"
    if first is not None:
        files.append(_image_file("revisit/first-capture-image", first[0]))
        names["first_capture_image"] = f"data/{files[-1].name}"
        if seen is not None:
            png = side_by_side(first[1].image.rgb, seen.image.rgb)
            files.append(
                EvidenceFile(name="revisit/comparison.png", media_type="image/png", data=png)
            )
            names["comparison"] = "data/revisit/comparison.png"
    if moved_page is not None:
        files.extend(_capture_files(moved_page, "moved-page"))
        names["moved_page_capture"] = "data/moved-page/capture.json"
    report["files"] = names
    text = json.dumps(report, indent=2, sort_keys=True, default=str) + "\n"
    visit = EvidenceFile(
        name="revisit/visit.json", media_type="application/json", data=text.encode("utf-8")
    )
    return [visit, *files]


def _capture_files(capture: Capture, prefix: str) -> Sequence[EvidenceFile]:
    files = [
        EvidenceFile(
            name=f"{prefix}/{a.path}", media_type=a.media_type, source=capture.folder / a.path
        )
        for a in capture.artefacts
    ]
    summary = json.dumps(capture.to_json(), indent=2, sort_keys=True, default=str)
    files.append(
        EvidenceFile(
            name=f"{prefix}/capture.json",
            media_type="application/json",
            data=summary.encode("utf-8"),
        )
    )
    return files
