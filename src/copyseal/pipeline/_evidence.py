"""What a sealed page's bundle holds besides the capture: the match report, an overlay per
match, and each registered work's original with its registration statement and receipt.

The overlay is drawn by running the matcher again on the *captured* bytes of the image
(the bytes the bundle keeps), not on what the crawler fetched earlier: the evidence shows
what the page served at capture time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from copyseal import times
from copyseal.bundle import EvidenceFile
from copyseal.capture import Box, Capture
from copyseal.db.schema.works import Work
from copyseal.errors import BundleError, CopysealError
from copyseal.workspace import Workspace

if TYPE_CHECKING:
    from copyseal.registry import WorkMatcher

__all__ = ["FoundImage", "evidence_files", "work_evidence"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class FoundImage:
    """A registered work found in an image on the page (what the crawler reports)."""

    image_url: str
    work_id: str
    #: The matcher's report (``Match.to_json()``): score, method, transform, region.
    report: dict[str, Any]
    #: Where the image sat on the page (CSS pixels), if known.
    box: Box | None = None
    #: The crawl match row this seals, if any.
    match_id: int | None = None


def _work_files(ws: Workspace, work: Work, n: int) -> tuple[list[EvidenceFile], dict[str, Any]]:
    """The registered work's original, registration statement and receipt, for the bundle."""
    from copyseal.registry import original_path

    files = []
    info: dict[str, Any] = {
        "work_id": work.work_id,
        "owner": work.owner,
        "title": work.title,
        "licence": work.licence,
        "original_sha256": work.sha256,
        "registered_at": times.iso(work.registered_at),
        "registration_ledger_index": work.ledger_index,
    }
    original = original_path(ws, work.sha256)
    if original.exists():
        name = f"works/{n:02d}-original.{work.format.lower()}"
        files.append(
            EvidenceFile(name=name, media_type=f"image/{work.format.lower()}", source=original)
        )
        info["original"] = f"data/{name}"
    if work.ledger_index is not None:
        ledger = ws.ledger()
        statement = ledger.entry(work.ledger_index).data
        files.append(
            EvidenceFile(
                name=f"works/{n:02d}-registration.json",
                media_type="application/json",
                data=statement,
            )
        )
        files.append(
            EvidenceFile(
                name=f"works/{n:02d}-registration.tlog-proof",
                media_type="text/plain",
                data=ledger.receipt(work.ledger_index).encode("utf-8"),
            )
        )
        info["registration"] = f"data/works/{n:02d}-registration.json"
        info["registration_receipt"] = f"data/works/{n:02d}-registration.tlog-proof"
    return files, info


def _overlay(ws: Workspace, matcher: WorkMatcher, work: Work, image_bytes: bytes) -> bytes | None:
    """Re-run the matcher on the captured bytes for this work and draw the overlay."""
    from copyseal.match import render_overlay
    from copyseal.registry import original_path

    try:
        query = matcher.decode(image_bytes)
        found = [m for m in matcher.match_image(query) if m.work_id == work.work_id]
        if not found:
            return None
        original = matcher.decode(original_path(ws, work.sha256).read_bytes(), name=work.work_id)
        return render_overlay(original, query, found[0])
    except (CopysealError, OSError) as e:
        log.warning("no overlay for %s: %s", work.work_id, e)
        return None


def _rights(work: Work, image_bytes: bytes) -> dict[str, Any] | None:
    """The captured image's rights metadata against the original's as registered (None
    for a work registered before it was read)."""
    from copyseal.match.rights import RightsMetadata, compare, read_rights

    if work.rights_metadata is None:
        return None
    return compare(
        RightsMetadata.from_json(json.loads(work.rights_metadata)), read_rights(image_bytes)
    )


def work_evidence(
    ws: Workspace, work_ids: Sequence[str], *, first: int = 1
) -> tuple[list[EvidenceFile], list[dict[str, Any]]]:
    """The originals, registration statements and receipts of ``work_ids`` (numbered from
    ``first``), and each work's facts, for a bundle that names works without a crawl
    match (a re-visit).

    Raises:
        BundleError: a work is not registered.
    """
    files: list[EvidenceFile] = []
    infos: list[dict[str, Any]] = []
    with Session(ws.engine) as session:
        for n, work_id in enumerate(work_ids, start=first):
            work = session.get(Work, work_id)
            if work is None:
                raise BundleError(f"work {work_id}: not registered")
            work_files, info = _work_files(ws, work, n)
            files.extend(work_files)
            infos.append(info)
    return files, infos


def evidence_files(
    ws: Workspace, matcher: WorkMatcher, capture: Capture, found: Sequence[FoundImage]
) -> tuple[list[EvidenceFile], dict[str, Any], list[str]]:
    """The files of one page's bundle, its match report (``{"matches": [...]}``, in the
    order of ``found``) and notes on what could not be kept.

    Raises:
        BundleError: a work in ``found`` is not registered.
    """
    files = [
        EvidenceFile(
            name=f"capture/{a.path}", media_type=a.media_type, source=capture.folder / a.path
        )
        for a in capture.artefacts
    ]
    files.append(
        EvidenceFile(
            name="capture/capture.json",
            media_type="application/json",
            data=json.dumps(capture.to_json(), indent=2, sort_keys=True, default=str).encode(
                "utf-8"
            ),
        )
    )
    notes = list(capture.errors)
    targets = list(capture.facts.get("targets", []))
    reports = []
    with Session(ws.engine) as session:
        for n, item in enumerate(found, start=1):
            work = session.get(Work, item.work_id)
            if work is None:
                raise BundleError(f"work {item.work_id}: not registered")
            work_files, work_info = _work_files(ws, work, n)
            files.extend(work_files)
            report: dict[str, Any] = {
                "image_url": item.image_url,
                "work": work_info,
                "match": item.report,
                "box": item.box.to_json() if item.box else None,
            }
            image = targets[n - 1].get("image") if n - 1 < len(targets) else None
            if image:
                report["captured_image"] = f"data/capture/{image['path']}"
                captured = (capture.folder / image["path"]).read_bytes()
                report["rights_metadata"] = _rights(work, captured)
                overlay = _overlay(ws, matcher, work, captured)
                if overlay is not None:
                    files.append(
                        EvidenceFile(
                            name=f"matches/{n:02d}-overlay.png",
                            media_type="image/png",
                            data=overlay,
                        )
                    )
                    report["overlay"] = f"data/matches/{n:02d}-overlay.png"
                else:
                    notes.append(f"match {n}: the captured image no longer matches {work.work_id}")
            else:
                report["rights_metadata"] = None
                notes.append(f"match {n}: {item.image_url} could not be kept at capture time")
            reports.append(report)
    return files, {"matches": reports}, notes
