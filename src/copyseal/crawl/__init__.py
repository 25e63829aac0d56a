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

from typing import TYPE_CHECKING

from copyseal._lazy import attribute_loader

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
    "CopysealSpider": "copyseal.crawl._spider",
    "CrawlSummary": "copyseal.crawl._jobs",
    "FrontierEntry": "copyseal.crawl._store",
    "ImageRef": "copyseal.crawl._extract",
    "JobSpec": "copyseal.crawl._spec",
    "MatchPipeline": "copyseal.crawl._pipelines",
    "MatchRecord": "copyseal.crawl._jobs",
    "PageExtract": "copyseal.crawl._extract",
    "PageVerdict": "copyseal.crawl._detect",
    "RunOutcome": "copyseal.crawl._schedule",
    "RunRecord": "copyseal.crawl._schedule",
    "ScheduleState": "copyseal.crawl._schedule",
    "Scheduler": "copyseal.crawl._scheduler",
    "StorePipeline": "copyseal.crawl._pipelines",
    "TargetEventRecord": "copyseal.crawl._targets",
    "TargetInfo": "copyseal.crawl._targets",
    "classify_page": "copyseal.crawl._detect",
    "crawl_summary": "copyseal.crawl._jobs",
    "effective_settings": "copyseal.crawl._targets",
    "enqueue_crawl": "copyseal.crawl._jobs",
    "extract_html": "copyseal.crawl._extract",
    "get_target": "copyseal.crawl._targets",
    "job_policy": "copyseal.crawl._jobs",
    "known_spiders": "copyseal.crawl._targets",
    "list_jobs": "copyseal.crawl._jobs",
    "list_matches": "copyseal.crawl._jobs",
    "list_targets": "copyseal.crawl._targets",
    "next_run": "copyseal.crawl._schedule",
    "plan_catch_up": "copyseal.crawl._schedule",
    "remove_target": "copyseal.crawl._targets",
    "resume_crawl": "copyseal.crawl._jobs",
    "save_target": "copyseal.crawl._targets",
    "schedule_states": "copyseal.crawl._schedule",
    "spec_for": "copyseal.crawl._spec",
    "start_crawl": "copyseal.crawl._jobs",
    "target_events": "copyseal.crawl._targets",
    "target_jobs": "copyseal.crawl._targets",
}


__getattr__ = attribute_loader(__name__, _HOMES)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
