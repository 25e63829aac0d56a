"""Crawling: find every image a visitor of a site would see, and match each one.

Spiders (thin, in ``spiders/``) subclass :class:`CopysealSpider`; this package holds what
they share: extraction (:func:`extract_html`, and the browser-side collection of render
mode), image fetching with limits and content sniffing, safety (no private addresses),
politeness (robots.txt, AutoThrottle, a User-Agent naming copyseal), page classification
(challenges, login walls, soft-404s), the item pipelines that match and store, and crawl
jobs kept in the database so that a killed crawl resumes exactly, and scheduled crawls
(:class:`Scheduler`: each due run claimed exactly once, missed runs caught up, pages with
earlier matches re-visited). Targets come from ``config.yaml`` and from the database
(admins manage those in the review app: :func:`save_target`, :func:`effective_settings`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from copyseal.crawl._detect import PageVerdict, classify_page
    from copyseal.crawl._extract import ImageRef, PageExtract, extract_html
    from copyseal.crawl._jobs import (
        CrawlSummary,
        MatchRecord,
        crawl_summary,
        enqueue_crawl,
        job_policy,
        list_jobs,
        list_matches,
        resume_crawl,
        start_crawl,
    )
    from copyseal.crawl._pipelines import MatchPipeline, StorePipeline
    from copyseal.crawl._schedule import (
        RunOutcome,
        RunRecord,
        ScheduleState,
        next_run,
        plan_catch_up,
        schedule_states,
    )
    from copyseal.crawl._scheduler import Scheduler
    from copyseal.crawl._spec import JobSpec, spec_for
    from copyseal.crawl._spider import CopysealSpider
    from copyseal.crawl._store import FrontierEntry
    from copyseal.crawl._targets import (
        TargetEventRecord,
        TargetInfo,
        effective_settings,
        get_target,
        known_spiders,
        list_targets,
        remove_target,
        save_target,
        target_events,
        target_jobs,
    )

__all__ = [
    "CopysealSpider",
    "CrawlSummary",
    "FrontierEntry",
    "ImageRef",
    "JobSpec",
    "MatchPipeline",
    "MatchRecord",
    "PageExtract",
    "PageVerdict",
    "RunOutcome",
    "RunRecord",
    "ScheduleState",
    "Scheduler",
    "StorePipeline",
    "TargetEventRecord",
    "TargetInfo",
    "classify_page",
    "crawl_summary",
    "effective_settings",
    "enqueue_crawl",
    "extract_html",
    "get_target",
    "job_policy",
    "known_spiders",
    "list_jobs",
    "list_matches",
    "list_targets",
    "next_run",
    "plan_catch_up",
    "remove_target",
    "resume_crawl",
    "save_target",
    "schedule_states",
    "spec_for",
    "start_crawl",
    "target_events",
    "target_jobs",
]

#: The module each public name lives in. A module is imported when one of its names is
#: first used (PEP 562 ``__getattr__``), so listing jobs or matches (``copyseal crawls``,
#: ``copyseal matches``) reads the database without importing Scrapy, Twisted or
#: Playwright, which the spider and runner modules need (over a second at start).
_HOMES = {
    "CopysealSpider": "_spider",
    "CrawlSummary": "_jobs",
    "FrontierEntry": "_store",
    "ImageRef": "_extract",
    "JobSpec": "_spec",
    "MatchPipeline": "_pipelines",
    "MatchRecord": "_jobs",
    "PageExtract": "_extract",
    "PageVerdict": "_detect",
    "RunOutcome": "_schedule",
    "RunRecord": "_schedule",
    "ScheduleState": "_schedule",
    "Scheduler": "_scheduler",
    "StorePipeline": "_pipelines",
    "TargetEventRecord": "_targets",
    "TargetInfo": "_targets",
    "classify_page": "_detect",
    "crawl_summary": "_jobs",
    "effective_settings": "_targets",
    "enqueue_crawl": "_jobs",
    "extract_html": "_extract",
    "get_target": "_targets",
    "job_policy": "_jobs",
    "known_spiders": "_targets",
    "list_jobs": "_jobs",
    "list_matches": "_jobs",
    "list_targets": "_targets",
    "next_run": "_schedule",
    "plan_catch_up": "_schedule",
    "remove_target": "_targets",
    "resume_crawl": "_jobs",
    "save_target": "_targets",
    "schedule_states": "_schedule",
    "spec_for": "_spec",
    "start_crawl": "_jobs",
    "target_events": "_targets",
    "target_jobs": "_targets",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups do not come back here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
