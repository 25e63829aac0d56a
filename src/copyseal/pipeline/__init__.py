"""The pipeline: crawl → match → capture → seal (→ anchor), with its policies in one place.

The stages live in their own packages (:mod:`copyseal.crawl` finds and matches images,
:mod:`copyseal.capture` preserves a page, :mod:`copyseal.bundle` is the evidence format,
:mod:`copyseal.ledger` the log); this package chains them, and the command line, the
scheduler, workers and the web app call it rather than chaining the stages themselves:

- :func:`run_crawl` / :func:`resume`: a crawl job, then each page with a match captured
  and sealed (:class:`PipelineResult`; ``to_json()`` is ``copyseal crawl --json``);
- :func:`seal_pending`: seal a job's matches that no bundle seals yet;
- :func:`capture_and_seal`: one page captured and sealed on demand (``copyseal capture``);
- :func:`seal_page`: the step for one page, in a browser session the caller shares;
- :func:`seal_capture`: seal a capture the caller made (a re-visit, :mod:`copyseal.revisit`);
- :class:`Worker`: ``copyseal worker``, one of many processes sharing distributed jobs
  (pages leased, seals claimed with ``SKIP LOCKED``; see :mod:`copyseal.pipeline._worker`);
- :class:`ScheduledCrawls`: the scheduler, each due job crawled and sealed in a child
  process (:class:`ProcessJobRunner`; a Twisted reactor runs once per process).

Policies: capture on match (:func:`seals_after_crawl`: ``capture.on_match``, unless the
caller decides), resuming (a finished job with unsealed matches is sealed), re-visits
(:func:`revisit_pages`, for schedules with ``revisit_matches``). Anchoring beyond the
ledger's signed checkpoint hooks in after sealing (:func:`anchor_if_due`, called after a
crawl's seals, a re-visit run and a notice marked sent).
"""

from copyseal.pipeline._chain import PipelineResult, anchor_if_due, resume, run_crawl
from copyseal.pipeline._evidence import FoundImage
from copyseal.pipeline._policy import revisit_pages, seals_after_crawl
from copyseal.pipeline._process import ChildLaunch, ProcessJobRunner
from copyseal.pipeline._schedules import ScheduledCrawls
from copyseal.pipeline._seal import (
    SealOutcome,
    capture_and_seal,
    capture_options,
    seal_capture,
    seal_page,
    seal_pending,
)
from copyseal.pipeline._worker import Worker

__all__ = [
    "ChildLaunch",
    "FoundImage",
    "PipelineResult",
    "ProcessJobRunner",
    "ScheduledCrawls",
    "SealOutcome",
    "Worker",
    "anchor_if_due",
    "capture_and_seal",
    "capture_options",
    "resume",
    "revisit_pages",
    "run_crawl",
    "seal_capture",
    "seal_page",
    "seal_pending",
    "seals_after_crawl",
]
