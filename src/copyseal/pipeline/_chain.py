"""The chain a crawl job goes through: crawl (and match) → capture → seal (→ anchor).

:func:`run_crawl` starts a job, :func:`resume` continues one; both run the crawl in this
process (Scrapy's reactor runs once per process: one crawl per process, see
:mod:`copyseal.pipeline._process` for a long-lived caller) and then seal what it found,
as :func:`~copyseal.pipeline._policy.seals_after_crawl` decides.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from copyseal.crawl import CrawlSummary, JobSpec, crawl_summary, resume_crawl, start_crawl
from copyseal.pipeline._policy import seals_after_crawl
from copyseal.pipeline._seal import SealOutcome, seal_pending
from copyseal.workspace import Workspace

__all__ = ["PipelineResult", "resume", "run_crawl"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class PipelineResult:
    """A crawl job after the chain: its report and the pages sealed in this run."""

    summary: CrawlSummary
    sealed: tuple[SealOutcome, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The ``copyseal crawl --json`` document: the job's report plus ``sealed``."""
        data = self.summary.to_json()
        data["sealed"] = [o.to_json() for o in self.sealed]
        return data


def run_crawl(
    ws: Workspace, spec: JobSpec, *, seal: bool | None = None, progress: bool = False
) -> PipelineResult:
    """Crawl ``spec`` as a new job, then capture and seal each page with a match.

    Args:
        ws: The workspace.
        spec: What to crawl (:func:`copyseal.crawl.spec_for`).
        seal: Capture and seal the pages with matches; ``None``: ``capture.on_match``.
        progress: Show a progress line on stderr while crawling.
    """
    summary = start_crawl(ws, spec, progress=progress)
    return _after_crawl(ws, summary, seal=seals_after_crawl(ws.settings, seal))


def resume(
    ws: Workspace, job_id: str, *, seal: bool | None = None, progress: bool = False
) -> PipelineResult:
    """Continue job ``job_id`` where it stopped, then seal its matches without a bundle.

    A finished job is resumed too when it is to be sealed: only its sealing is left (it
    was killed while sealing, or crawled without capture).

    Raises:
        CrawlError: no such job, it is still running, or it is finished and not sealed.
    """
    will_seal = seals_after_crawl(ws.settings, seal)
    summary = resume_crawl(ws, job_id, progress=progress, allow_finished=will_seal)
    return _after_crawl(ws, summary, seal=will_seal)


def _after_crawl(ws: Workspace, summary: CrawlSummary, *, seal: bool) -> PipelineResult:
    if not seal:
        return PipelineResult(summary=summary)
    # Pages change: each page with a match is captured now, before any review.
    sealed = seal_pending(ws, summary.job_id)
    # Anchoring: the checkpoints these bundles were appended under are anchored here, once
    # per run rather than once per bundle, when due (anchors.every_seconds).
    anchor_if_due(ws)
    return PipelineResult(
        summary=crawl_summary(ws, summary.job_id),  # matches now name their bundles
        sealed=tuple(sealed),
    )


def anchor_if_due(ws: Workspace) -> None:
    """Anchor the newest checkpoint if due, without waiting for confirmations. It never
    fails the crawl: each anchor's failure is recorded by the anchoring service (and
    retried with back-off); anything else is logged here."""
    from copyseal.anchors.service import run_if_due

    try:
        results = run_if_due(ws)
    except Exception as e:  # anchoring must never fail a crawl whose evidence is sealed
        log.warning("anchoring skipped", extra={"error": f"{e.__class__.__name__}: {e}"})
        return
    for r in results or ():
        if "error" in r:
            log.warning(
                "anchor failed", extra={"anchor": f"{r['kind']}:{r['name']}", "error": r["error"]}
            )
