"""Sealing: capture a page where registered works were found, and bundle it as evidence.

:func:`seal_page` runs the whole chain for one page — a fresh-context capture
(:mod:`copyseal.capture`), the match report with an overlay per match, the registered
works' originals and their ledger receipts, then :func:`~copyseal.bundle.write_bundle`
(hash, sign, anchor, bag). :func:`seal_job` seals every page of a crawl job whose matches
have no bundle yet, so a crawl that was killed before sealing is completed on resume.
A page that cannot be captured is recorded in ``capture_failures``; its matches stay.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from copyseal.bundle._records import reconcile_bundles, record_bundle
from copyseal.bundle.writer import BundleInfo, EvidenceFile, write_bundle
from copyseal.capture import Box, BrowserSession, Capture, CaptureOptions, Target, capture_page
from copyseal.capture._files import in_thread
from copyseal.db.models import Work
from copyseal.db.schema.bundle import CaptureFailure
from copyseal.errors import BundleError, CopysealError
from copyseal.workspace import Workspace

if TYPE_CHECKING:
    from copyseal.registry import WorkspaceMatcher

__all__ = ["FoundImage", "SealOutcome", "reconcile_bundles", "seal_job", "seal_page"]

log = logging.getLogger(__name__)

# Sealing (overlays, hashing, fsync, signing, the ledger append) runs in a worker thread
# so that the event loop keeps serving the browser work of the pages captured meanwhile.
# One seal at a time per process: the matcher is not made for concurrent use, and ledger
# appends are serialised by the database anyway.
_SEAL_LOCK = threading.Lock()


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


@dataclass(frozen=True, kw_only=True)
class SealOutcome:
    """A page sealed (``bundle``) or not (``error``)."""

    page_url: str
    bundle: BundleInfo | None = None
    error: str | None = None
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "page_url": self.page_url,
            "bundle": self.bundle.to_json() if self.bundle else None,
            "error": self.error,
            "notes": list(self.notes),
        }


def capture_options(ws: Workspace) -> CaptureOptions:
    """Capture options from the workspace's ``capture`` and ``crawl`` settings."""
    cap, crawl = ws.settings.capture, ws.settings.crawl
    return CaptureOptions(
        viewport=(cap.viewport_width, cap.viewport_height),
        user_agent=crawl.resolved_user_agent(),
        load_timeout=cap.load_timeout,
        settle_timeout=cap.settle_timeout,
        ntp_server=cap.ntp_server,
    )


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
        "registered_at": work.registered_at.replace(
            tzinfo=work.registered_at.tzinfo or UTC
        ).isoformat(),
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


def _overlay(
    ws: Workspace, matcher: WorkspaceMatcher, work: Work, image_bytes: bytes
) -> bytes | None:
    """Re-run the matcher on the captured bytes for this work and draw the overlay."""
    from copyseal.match import decode, render_overlay
    from copyseal.registry import original_path

    try:
        query = matcher.decode(image_bytes)
        found = [m for m in matcher.match_image(query) if m.work_id == work.work_id]
        if not found:
            return None
        original = decode(
            original_path(ws, work.sha256).read_bytes(), max_pixels=matcher.config.max_pixels
        )
        return render_overlay(original, query, found[0])
    except (CopysealError, OSError) as e:
        log.warning("no overlay for %s: %s", work.work_id, e)
        return None


def _evidence(
    ws: Workspace, matcher: WorkspaceMatcher, capture: Capture, found: Sequence[FoundImage]
) -> tuple[list[EvidenceFile], dict[str, Any], list[str]]:
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
                overlay = _overlay(ws, matcher, work, (capture.folder / image["path"]).read_bytes())
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
                notes.append(f"match {n}: {item.image_url} could not be kept at capture time")
            reports.append(report)
    return files, {"matches": reports}, notes


async def seal_page(
    ws: Workspace,
    *,
    url: str,
    found: Sequence[FoundImage],
    session: BrowserSession,
    job_id: str | None = None,
    matcher: WorkspaceMatcher | None = None,
    extra_targets: Sequence[Target] = (),
    options: CaptureOptions | None = None,
) -> SealOutcome:
    """Capture ``url`` now and seal it with its matches into a signed, anchored bundle.

    ``extra_targets`` are more images to outline and keep (a capture on demand has no
    matches). Never raises for a page that cannot be captured: the failure is recorded in
    ``capture_failures`` and returned.
    """
    # Opened here, on the event loop, before the worker threads below share it.
    engine = ws.engine
    if matcher is None:
        from copyseal.registry import build_matcher

        matcher = build_matcher(engine, ws.settings)
    scratch = ws.settings.workspace.evidence_dir / ".captures" / secrets.token_hex(8)
    scratch.parent.mkdir(parents=True, exist_ok=True)
    targets = (
        *(Target(url=f.image_url, box=f.box, label=f.work_id) for f in found),
        *extra_targets,
    )
    try:
        capture = await capture_page(
            url, scratch, session=session, targets=targets, options=options or capture_options(ws)
        )
        info, notes = await in_thread(_seal, ws, matcher, capture, found, url=url, job_id=job_id)
    except (CopysealError, OSError) as e:
        reason = str(e) if isinstance(e, CopysealError) else f"{e.__class__.__name__}: {e}"
        log.warning("capture failed", extra={"url": url, "reason": reason})
        try:
            with Session(engine) as db:
                db.add(
                    CaptureFailure(
                        page_url=url, job_id=job_id, error=reason, failed_at=datetime.now(UTC)
                    )
                )
                db.commit()
        except SQLAlchemyError as db_error:
            log.error("capture failure not recorded: %s", db_error.__class__.__name__)
        return SealOutcome(page_url=url, error=reason)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    try:
        await in_thread(
            record_bundle,
            ws,
            info,
            page_url=url,
            job_id=job_id,
            captured_at=capture.started_at,
            match_ids=[f.match_id for f in found if f.match_id is not None],
        )
    except SQLAlchemyError as e:
        # The bundle is sealed and anchored on disk; reconcile_bundles() records it later.
        log.error("bundle %s sealed but not recorded: %s", info.bundle_id, e.__class__.__name__)
        notes.append("sealed, but not yet recorded in the database (reconciled on the next run)")
    log.info("page sealed", extra={"url": url, "bundle_id": info.bundle_id})
    return SealOutcome(page_url=url, bundle=info, notes=tuple(notes))


def _seal(
    ws: Workspace,
    matcher: WorkspaceMatcher,
    capture: Capture,
    found: Sequence[FoundImage],
    *,
    url: str,
    job_id: str | None,
) -> tuple[BundleInfo, list[str]]:
    """The overlays and the bundle of one capture (run in a worker thread, one at a time)."""
    with _SEAL_LOCK:
        files, report, notes = _evidence(ws, matcher, capture, found)
        owner = next((r["work"]["owner"] for r in report["matches"] if r["work"]["owner"]), None)
        info = write_bundle(
            root=ws.settings.workspace.evidence_dir / "bundles",
            url=url,
            captured_at=capture.started_at,
            files=files,
            match=report,
            capture={
                "capture_id": capture.capture_id,
                "final_url": capture.final_url,
                "finished_at": capture.finished_at.astimezone(UTC).isoformat(),
                "status": capture.facts.get("page", {}).get("status"),
                "server": capture.facts.get("network", {}).get("server"),
                "notes": notes,
                "job_id": job_id,
            },
            signing_key=ws.signing_key(),
            ledger=ws.ledger(),
            organization=ws.settings.capture.organization or owner,
        )
    return info, notes


def _pending(ws: Workspace, job_id: str) -> dict[str, list[FoundImage]]:
    from copyseal.db.schema.crawl import CrawlMatch

    pages: dict[str, list[FoundImage]] = {}
    with Session(ws.engine) as db:
        rows = db.scalars(
            select(CrawlMatch)
            .where(CrawlMatch.job_id == job_id, CrawlMatch.bundle_id.is_(None))
            .order_by(CrawlMatch.id)
        )
        for row in rows:
            location = json.loads(row.location or "{}")
            bbox = location.get("bbox")  # [x, y, width, height] in render mode, else None
            box = Box(x=bbox[0], y=bbox[1], width=bbox[2], height=bbox[3]) if bbox else None
            pages.setdefault(row.page_url, []).append(
                FoundImage(
                    image_url=row.image_url,
                    work_id=row.work_id,
                    report=json.loads(row.detail),
                    box=box,
                    match_id=row.id,
                )
            )
    return pages


def seal_job(ws: Workspace, job_id: str, *, concurrency: int = 2) -> list[SealOutcome]:
    """Seal every page of crawl ``job_id`` with matches not yet in a bundle.

    Pages are captured ``concurrency`` at a time in one browser (each in a fresh context).
    """
    reconcile_bundles(ws)
    pages = _pending(ws, job_id)
    if not pages:
        return []
    from copyseal.registry import build_matcher

    matcher = build_matcher(ws.engine, ws.settings)

    async def run() -> list[SealOutcome]:
        limit = asyncio.Semaphore(concurrency)
        async with BrowserSession.from_settings(ws.settings) as session:

            async def one(url: str, found: list[FoundImage]) -> SealOutcome:
                async with limit:
                    return await seal_page(
                        ws, url=url, found=found, session=session, job_id=job_id, matcher=matcher
                    )

            done = await asyncio.gather(
                *(one(u, f) for u, f in pages.items()), return_exceptions=True
            )
            # One page's unexpected error must not lose the other pages' outcomes.
            return [
                o
                if isinstance(o, SealOutcome)
                else SealOutcome(page_url=u, error=f"{o.__class__.__name__}: {o}")
                for u, o in zip(pages, done, strict=True)
            ]

    return asyncio.run(run())
