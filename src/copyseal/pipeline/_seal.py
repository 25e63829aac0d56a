"""Capture and seal: a page where registered works were found becomes a signed bundle.

:func:`seal_page` runs the chain for one page: a fresh-context capture
(:mod:`copyseal.capture`), the match report with an overlay per match and the works'
originals and receipts (:mod:`copyseal.pipeline._evidence`), then
:func:`~copyseal.bundle.write_bundle` (hash, sign, append to the ledger, bag) and the
bundle's record. :func:`seal_pending` seals every page of a crawl job whose matches have no
bundle yet, so a crawl killed before sealing is completed on resume;
:func:`capture_and_seal` is ``copyseal capture URL``. A page that cannot be captured is
recorded in ``capture_failures``; its matches stay unsealed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import shutil
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from copyseal import times
from copyseal.bundle import BundleInfo, EvidenceFile, write_bundle
from copyseal.capture import (
    Box,
    BrowserSession,
    Capture,
    CaptureOptions,
    Target,
    capture_page,
    in_thread,
)
from copyseal.crawl import job_policy
from copyseal.db.schema.bundle import CaptureFailure
from copyseal.db.schema.crawl import CrawlMatch
from copyseal.errors import CopysealError
from copyseal.netpolicy import AddressPolicy
from copyseal.pipeline._evidence import FoundImage, evidence_files, work_evidence
from copyseal.pipeline._records import reconcile_bundles, record_bundle
from copyseal.storage import Area
from copyseal.workspace import Workspace

if TYPE_CHECKING:
    from copyseal.registry import WorkMatcher

__all__ = [
    "SealOutcome",
    "capture_and_seal",
    "capture_options",
    "seal_capture",
    "seal_page",
    "seal_pending",
]

log = logging.getLogger(__name__)

# Sealing (overlays, hashing, fsync, signing, the ledger append) runs in a worker thread
# so that the event loop keeps serving the browser work of the pages captured meanwhile.
# One seal at a time per process: the matcher is not made for concurrent use, and ledger
# appends are serialised by the database anyway.
_SEAL_LOCK = threading.Lock()


@dataclass(frozen=True, kw_only=True)
class SealOutcome:
    """A page sealed (``bundle``) or not (``error``)."""

    page_url: str
    bundle: BundleInfo | None = None
    error: str | None = None
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """An entry of ``sealed`` in ``copyseal crawl --json``; ``copyseal capture --json``."""
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


def _record_failure(ws: Workspace, url: str, job_id: str | None, reason: str) -> None:
    try:
        with Session(ws.engine) as db:
            db.add(CaptureFailure(page_url=url, job_id=job_id, error=reason, failed_at=times.now()))
            db.commit()
    except SQLAlchemyError as db_error:
        log.error("capture failure not recorded: %s", db_error.__class__.__name__)


async def seal_page(
    ws: Workspace,
    *,
    url: str,
    found: Sequence[FoundImage],
    session: BrowserSession,
    job_id: str | None = None,
    matcher: WorkMatcher | None = None,
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
    scratch = ws.store.path(Area.CAPTURES, secrets.token_hex(8))
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
        _record_failure(ws, url, job_id, reason)
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
    matcher: WorkMatcher,
    capture: Capture,
    found: Sequence[FoundImage],
    *,
    url: str,
    job_id: str | None,
    extra_files: Sequence[EvidenceFile] = (),
    extra_report: Mapping[str, Any] | None = None,
    works: Sequence[str] = (),
) -> tuple[BundleInfo, list[str]]:
    """The overlays and the bundle of one capture (run in a worker thread, one at a time).

    ``extra_files`` are sealed beside the capture's (a re-visit's comparison, a second
    page's capture); ``extra_report`` adds keys to the manifest's match report; ``works``
    are more works whose originals and receipts are kept (``works`` in the report)."""
    with _SEAL_LOCK:
        files, report, notes = evidence_files(ws, matcher, capture, found)
        if works:
            work_files, infos = work_evidence(ws, works, first=len(found) + 1)
            files.extend(work_files)
            report["works"] = infos
        files.extend(extra_files)
        report.update(extra_report or {})
        owner = next((r["work"]["owner"] for r in report["matches"] if r["work"]["owner"]), None)
        info = write_bundle(
            root=ws.store.folder(Area.BUNDLES),
            url=url,
            captured_at=capture.started_at,
            files=files,
            match=report,
            capture={
                "capture_id": capture.capture_id,
                "final_url": capture.final_url,
                "finished_at": times.iso(capture.finished_at),
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


def seal_capture(
    ws: Workspace,
    capture: Capture,
    *,
    url: str,
    matcher: WorkMatcher,
    found: Sequence[FoundImage] = (),
    extra_files: Sequence[EvidenceFile] = (),
    extra_report: Mapping[str, Any] | None = None,
    works: Sequence[str] = (),
) -> tuple[BundleInfo, list[str]]:
    """Seal a capture made by the caller into a bundle and record the bundle (linking no
    crawl match: a re-visit's bundle is evidence *about* a match, not its first capture).

    The same path as :func:`seal_page` (the match report, overlays, the works' originals
    and receipts, :func:`~copyseal.bundle.write_bundle`), plus ``extra_files``, the
    keys of ``extra_report`` in the manifest's match report, and the originals and
    receipts of ``works`` (work ids). Blocking: call it from a worker thread in async
    code. If the bundle is sealed but its record fails, the bundle is reconciled on the
    next run and a note says so.

    Raises:
        BundleError: the bundle could not be sealed; nothing is left behind.
    """
    info, notes = _seal(
        ws,
        matcher,
        capture,
        found,
        url=url,
        job_id=None,
        extra_files=extra_files,
        extra_report=extra_report,
        works=works,
    )
    try:
        record_bundle(ws, info, page_url=url, job_id=None, captured_at=capture.started_at)
    except SQLAlchemyError as e:
        log.error("bundle %s sealed but not recorded: %s", info.bundle_id, e.__class__.__name__)
        notes.append("sealed, but not yet recorded in the database (reconciled on the next run)")
    return info, notes


def _pending(ws: Workspace, job_id: str) -> dict[str, list[FoundImage]]:
    """The job's matches without a bundle, by page, in the order they were found."""
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


def has_pending(ws: Workspace, job_id: str) -> bool:
    """Whether crawl ``job_id`` has a match that no bundle seals yet."""
    with Session(ws.engine) as db:
        return (
            db.scalar(
                select(CrawlMatch.id)
                .where(CrawlMatch.job_id == job_id, CrawlMatch.bundle_id.is_(None))
                .limit(1)
            )
            is not None
        )


def seal_pending(ws: Workspace, job_id: str, *, concurrency: int = 2) -> list[SealOutcome]:
    """Seal every page of crawl ``job_id`` with matches not yet in a bundle.

    Bundles sealed on disk but not recorded (a crash in between) are recorded first, so
    their pages are not captured twice. Pages are captured ``concurrency`` at a time in
    one browser (each in a fresh context).
    """
    reconcile_bundles(ws)
    pages = _pending(ws, job_id)
    if not pages:
        return []
    from copyseal.registry import build_matcher

    matcher = build_matcher(ws.engine, ws.settings)

    async def run() -> list[SealOutcome]:
        limit = asyncio.Semaphore(concurrency)
        # The crawl's address policy (its allowances plus crawl.allow_networks) governs
        # the capture browser too: it fetches nothing the crawl was not allowed to.
        policy = job_policy(ws, job_id)
        async with BrowserSession.from_settings(ws.settings, policy=policy) as session:

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


def capture_and_seal(
    ws: Workspace,
    url: str,
    *,
    images: Sequence[str] = (),
    options: CaptureOptions | None = None,
    policy: AddressPolicy | None = None,
) -> SealOutcome:
    """Capture ``url`` now, on demand, and seal it (``copyseal capture URL``).

    Args:
        ws: The workspace whose ledger and evidence folder receive the bundle.
        url: The page.
        images: URLs of images to outline and keep (no match is claimed for them).
        options: Capture options (default: :func:`capture_options`).
        policy: What the browser may fetch (default: global addresses and
            ``crawl.allow_networks``).
    """

    async def run() -> SealOutcome:
        async with BrowserSession.from_settings(ws.settings, policy=policy) as session:
            return await seal_page(
                ws,
                url=url,
                found=[],
                session=session,
                extra_targets=[Target(url=i) for i in images],
                options=options,
            )

    return asyncio.run(run())
