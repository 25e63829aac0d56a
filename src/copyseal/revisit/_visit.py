"""One re-visit of a known use: capture the page again, look for the work, seal, log.

The steps, for each selected match (:mod:`copyseal.revisit._select`):

1. a ``match_visits`` row is written first (``error`` "interrupted", no result), so a
   visit killed mid-way is on record and is simply made again by the next run;
2. the page URL must pass the network policy (:class:`copyseal.netpolicy.AddressPolicy`:
   ``allow_private`` and ``allow_networks`` as ``copyseal crawl --allow-private
   --allow-network``, plus ``crawl.allow_networks``); a refusal is a failed visit
   (nothing was fetched, so there is nothing to seal). The browser session gets the same
   policy, so every request of the page (redirects, images) obeys it too;
3. the page is captured in a fresh browser context, as sealing after a crawl does
   (:func:`copyseal.capture.capture_page`; error pages too: a 404 or a login wall is
   what the site shows). The capture renders the page whatever mode the crawl used, and
   it is the visit's only load of the page (no separate static fetch). It is bounded by
   ``capture.load_timeout + capture.settle_timeout`` plus :data:`_SLACK` seconds;
4. the work is looked for with the workspace's matcher in every image the capture
   received (:mod:`copyseal.revisit._page`); when the page is content and the work is not
   on it, up to ``max_linked_pages`` same-site pages it links to are captured and searched
   too (a work moved to another page);
5. the result is decided (:func:`copyseal.revisit.classify`), and for a copy found on the
   page it is compared with the first capture's (:mod:`copyseal.revisit._compare`);
6. the capture is sealed through the pipeline (:func:`copyseal.pipeline.seal_capture`):
   a new bundle for every result, with ``revisit/visit.json``, the image found, the first
   capture's image, ``revisit/comparison.png`` (side by side), ``revisit/overlay.png`` and
   a linked page's capture under ``moved-page/``; the work's original and receipt;
7. a ``continued-use`` statement is appended to the ledger and the row completed.

A capture that fails (refused connection, timeout, a server error) leaves no bundle: the
capture folder is built under a temporary name and removed, and the bundle writer never
leaves a half-written bundle. The row keeps the error and the next run visits again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from copyseal import times
from copyseal.capture import Box, Capture, CaptureOptions, Target, capture_page, in_thread
from copyseal.capture.session import BrowserSession
from copyseal.errors import CopysealError, RevisitError
from copyseal.revisit._classify import PageState, classify, is_content, same_site
from copyseal.revisit._compare import Comparison, compare
from copyseal.revisit._files import MATCH_LOCK, first_copy, original_bytes, visit_files
from copyseal.revisit._page import (
    NAMED_ONLY,
    Sighting,
    decode_bytes,
    find_work,
    page_images,
    page_text,
)
from copyseal.revisit._record import VisitResult, finish_row, log_visit, start_row
from copyseal.revisit._select import KnownUse, scheduled_uses, select_uses
from copyseal.storage import Area
from copyseal.workspace import Workspace

if TYPE_CHECKING:
    from copyseal.netpolicy import AddressPolicy
    from copyseal.registry import WorkMatcher

__all__ = ["MAX_LINKED_PAGES", "VisitResult", "revisit", "revisit_scheduled"]

log = logging.getLogger(__name__)

#: Same-site pages linked from a page without the work that are searched for it.
MAX_LINKED_PAGES = 3
#: Seconds allowed beyond the capture's own load and settle bounds (screenshots, WACZ).
_SLACK = 60.0


def revisit(
    ws: Workspace,
    *,
    cases: Sequence[str] = (),
    domains: Sequence[str] = (),
    match_ids: Sequence[int] = (),
    allow_private: bool = False,
    allow_networks: Sequence[str] = (),
    max_linked_pages: int = MAX_LINKED_PAGES,
    options: CaptureOptions | None = None,
) -> list[VisitResult]:
    """Re-visit known uses and seal what each page shows now.

    Args:
        ws: The workspace.
        cases, domains, match_ids: Which matches (any of them; all followed matches when
            none is given). See :func:`copyseal.revisit.select_uses`.
        allow_private: Private and loopback addresses may be fetched (local sites).
        allow_networks: Networks (CIDR) that may be fetched although not public
            (``--allow-network``; ``crawl.allow_networks`` is added).
        max_linked_pages: Same-site linked pages searched when the work left the page.
        options: Capture options (default: the workspace's, error pages kept).

    Returns:
        One :class:`VisitResult` per match visited, in match id order.

    Raises:
        RevisitError: a case or match id is unknown, or a named match is not followed.
    """
    uses = select_uses(ws, cases=cases, domains=domains, match_ids=match_ids)
    if not uses:
        return []
    from copyseal.netpolicy import AddressPolicy
    from copyseal.pipeline import capture_options
    from copyseal.registry import build_matcher

    matcher = build_matcher(ws.engine, ws.settings)
    opts = replace(options or capture_options(ws), keep_error_pages=True)
    policy = AddressPolicy.build(
        allow_private=allow_private,
        networks=(*ws.settings.crawl.allow_networks, *allow_networks),
        source="--allow-network / crawl.allow_networks",
    )
    visitor = _Visitor(ws=ws, matcher=matcher, options=opts, policy=policy, links=max_linked_pages)

    async def run() -> list[VisitResult]:
        # The browser's own requests (sub-resources, redirects) obey the same policy.
        async with BrowserSession.from_settings(ws.settings, policy=policy) as session:
            return [await visitor.visit(use, session) for use in uses]

    results = asyncio.run(run())
    if any(r.ledger_index is not None for r in results):
        # The visits' statements are anchored like a crawl's seals, when due.
        from copyseal.pipeline import anchor_if_due

        anchor_if_due(ws)
    return results


def revisit_scheduled(ws: Workspace, job_id: str) -> list[VisitResult]:
    """The visits of a scheduled crawl with ``revisit_matches``: after job ``job_id`` has
    run, every followed match earlier jobs of its target found is re-visited (with the
    job's network allowances), so the schedule's re-crawl also records each known use's
    state. Nothing when the job was not such a run."""
    from copyseal.crawl import JobSpec
    from copyseal.db.schema.crawl import CrawlJob

    match_ids = scheduled_uses(ws, job_id)
    if not match_ids:
        return []
    with Session(ws.engine) as db:
        job = db.get(CrawlJob, job_id)
        spec = JobSpec.loads(job.spec) if job is not None else None
    return revisit(
        ws,
        match_ids=match_ids,
        allow_private=bool(spec and spec.allow_private),
        allow_networks=spec.allow_networks if spec else (),
    )


@dataclass(kw_only=True)
class _Visitor:
    """Visits known uses one after the other in one browser session."""

    ws: Workspace
    matcher: WorkMatcher
    options: CaptureOptions
    policy: AddressPolicy
    links: int

    @property
    def timeout(self) -> float:
        return self.options.load_timeout + self.options.settle_timeout + _SLACK

    async def visit(self, use: KnownUse, session: BrowserSession) -> VisitResult:
        row_id = await in_thread(start_row, self.ws, use)
        scratch: list[Path] = []
        try:
            return await self._visit(use, session, row_id, scratch)
        except (CopysealError, OSError, TimeoutError) as e:
            reason = str(e) if isinstance(e, CopysealError) else f"{e.__class__.__name__}: {e}"
            if isinstance(e, TimeoutError):
                reason = f"the visit took longer than {self.timeout:g} s"
            log.warning("revisit failed", extra={"match_id": use.match_id, "reason": reason})
            await in_thread(finish_row, self.ws, row_id, error=reason)
            return VisitResult(
                match_id=use.match_id, page_url=use.page_url, result=None, error=reason
            )
        except Exception as e:  # a bug or a database error: the other visits go on
            log.exception("revisit of match %s failed", use.match_id)
            reason = f"{e.__class__.__name__}: {e}"
            with contextlib.suppress(Exception):  # the row keeps "interrupted" if not
                await in_thread(finish_row, self.ws, row_id, error=reason)
            return VisitResult(
                match_id=use.match_id, page_url=use.page_url, result=None, error=reason
            )
        finally:
            for folder in scratch:
                shutil.rmtree(folder, ignore_errors=True)

    async def _capture(
        self, url: str, session: BrowserSession, scratch: list[Path], targets: Sequence[Target]
    ) -> Capture:
        refusal = await self.policy.check(url)
        if refusal is not None:
            raise RevisitError(f"{url}: refused by the address policy ({refusal.detail})")
        folder = self.ws.store.path(Area.CAPTURES, secrets.token_hex(8))
        folder.parent.mkdir(parents=True, exist_ok=True)
        scratch.append(folder)
        return await asyncio.wait_for(
            capture_page(url, folder, session=session, targets=targets, options=self.options),
            self.timeout,
        )

    def _state(self, use: KnownUse, capture: Capture) -> PageState:
        from copyseal.crawl import classify_page

        page = capture.facts.get("page", {})
        status = int(page.get("status") or 0)
        html, text = page_text(capture)
        verdict = classify_page(
            status=status,
            url=capture.final_url,
            headers={},
            html=html,
            title=str(page.get("title") or ""),
            text=text,
        )
        try:
            size = capture.artefact("raw-html").size
        except KeyError:
            size = len(html.encode("utf-8"))
        return PageState(
            requested_url=use.page_url,
            final_url=capture.final_url,
            status=status,
            verdict=verdict.status,
            verdict_reason=verdict.reason,
            page_bytes=size,
            max_page_bytes=self.ws.settings.crawl.max_page_bytes,
        )

    def _find(self, capture: Capture, work_id: str, prefer: str) -> Sighting | None:
        with MATCH_LOCK:
            images = page_images(capture, max_bytes=self.ws.settings.match.max_bytes)
            return find_work(self.matcher, work_id, images, prefer=prefer)

    async def _linked(
        self,
        use: KnownUse,
        capture: Capture,
        session: BrowserSession,
        scratch: list[Path],
    ) -> tuple[Capture, Sighting, list[str]] | None:
        """The first same-site page linked from ``capture`` that shows the work."""
        from copyseal.crawl import extract_html

        html, _text = page_text(capture)
        try:
            dom = capture.path("dom").read_text("utf-8", "replace")
        except (KeyError, OSError):
            dom = html
        seen = {use.page_url.split("#")[0], capture.final_url.split("#")[0]}
        tried: list[str] = []
        for link in extract_html(dom, capture.final_url).links:
            url = link.split("#", 1)[0]
            if url in seen or not same_site(url, use.page_url):
                continue
            seen.add(url)
            if len(tried) >= self.links:
                break
            tried.append(url)
            try:
                other = await self._capture(url, session, scratch, ())
            except (CopysealError, OSError, TimeoutError) as e:
                log.info("linked page not searched: %s (%s)", url, e)
                continue
            status = int(other.facts.get("page", {}).get("status") or 0)
            if status != 200 or not same_site(other.final_url, use.page_url):
                continue
            sighting = await in_thread(self._find, other, use.work_id, use.image_url)
            if sighting is not None:
                return other, sighting, tried
        return None

    async def _visit(
        self, use: KnownUse, session: BrowserSession, row_id: int, scratch: list[Path]
    ) -> VisitResult:
        box = use.location.get("bbox")  # [x, y, width, height] in render mode
        target = Target(
            url=use.image_url,
            box=Box(x=box[0], y=box[1], width=box[2], height=box[3]) if box else None,
            label=use.work_id,
        )
        capture = await self._capture(use.page_url, session, scratch, [target])
        state = self._state(use, capture)
        content = is_content(state)
        sighting = (
            await in_thread(self._find, capture, use.work_id, use.image_url) if content else None
        )
        linked = None
        if content and sighting is None and self.links > 0:
            linked = await self._linked(use, capture, session, scratch)
        comparison: Comparison | None = None
        first = None
        if sighting is not None:
            first = await in_thread(first_copy, self.ws, self.matcher, use)
        if sighting is not None and first is not None:
            work = decode_bytes(self.matcher, original_bytes(self.ws, use.work_id))
            if work is not None:
                comparison = compare(
                    first=first[1].image.rgb,
                    first_matrix=first[1].matrix,
                    again=sighting.image.rgb,
                    again_matrix=sighting.matrix,
                    work_size=(work.width, work.height),
                )
        verdict = classify(
            state,
            found_here=sighting is not None,
            found_elsewhere=linked is not None,
            comparison=comparison,
        )
        if verdict.result is None:
            raise RevisitError(f"{use.page_url}: {verdict.reason}")
        seen = sighting or (linked[1] if linked else None)
        reason = verdict.reason
        if seen is not None and seen.source == NAMED_ONLY:
            # Found only in an image the page names without showing it (its og:image):
            # the result says so, for whoever reads the statement without the bundle.
            reason = f"{verdict.reason}; the image is {NAMED_ONLY}"
        found_page = None
        if sighting is not None:
            found_page = capture.final_url
        elif linked is not None:
            found_page = linked[0].final_url
        visited_at = capture.started_at
        report: dict[str, Any] = {
            "match_id": use.match_id,
            "work_id": use.work_id,
            "page_url": use.page_url,
            "visited_at": times.iso(visited_at),
            "result": verdict.result,
            "reason": reason,
            "final_url": capture.final_url,
            "http_status": state.status,
            "page_verdict": state.verdict,
            "found_page_url": found_page,
            "found_image_url": seen.image_url if seen else None,
            "found_image_source": seen.source if seen else None,
            "match": seen.match.to_json() if seen else None,
            "first_capture": {
                "bundle_id": use.first_bundle_id,
                "image_url": use.image_url,
                "match": use.report,
            },
            "comparison": comparison.to_json() if comparison else None,
            "linked_pages_searched": linked[2] if linked else [],
        }
        files = visit_files(
            self.ws,
            self.matcher,
            use,
            seen=seen,
            first=first,
            moved_page=linked[0] if linked else None,
            report=report,
        )
        from copyseal.pipeline import seal_capture

        info, _notes = await in_thread(
            seal_capture,
            self.ws,
            capture,
            url=use.page_url,
            matcher=self.matcher,
            extra_files=files,
            extra_report={"revisit": report},
            works=[use.work_id],
        )
        similarity = comparison.similarity if comparison else None
        index = await in_thread(
            log_visit,
            self.ws,
            use,
            result=verdict.result,
            reason=reason,
            bundle=info,
            similarity=similarity,
            found_page_url=found_page,
            found_image_url=report["found_image_url"],
            at=visited_at,
        )
        await in_thread(
            finish_row,
            self.ws,
            row_id,
            result=verdict.result,
            found_page_url=found_page,
            found_image_url=report["found_image_url"],
            similarity=None if similarity is None else round(similarity, 4),
            bundle_id=info.bundle_id,
            ledger_index=index,
            error=None,
            visited_at=visited_at,
        )
        log.info("revisited", extra={"match_id": use.match_id, "result": verdict.result})
        return VisitResult(
            match_id=use.match_id,
            page_url=use.page_url,
            result=verdict.result,
            bundle=info,
            similarity=similarity,
            ledger_index=index,
            reason=reason,
            found_page_url=found_page,
            found_image_url=report["found_image_url"],
        )
