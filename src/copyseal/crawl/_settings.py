"""The Scrapy settings of a crawl job, built from copyseal's settings in one place."""

from __future__ import annotations

import logging
from typing import Any

from copyseal.capture.session import CHROMIUM_ARGS
from copyseal.config import Settings
from copyseal.crawl._safety import AddressPolicy
from copyseal.crawl._spec import JobSpec

__all__ = ["BROWSER_ARGS", "DEFAULT_MATCHER", "scrapy_settings"]

#: Chromium flags: the same as evidence capture's (no sandbox as root, nothing phoning home).
BROWSER_ARGS = CHROMIUM_ARGS
#: The matcher factory of a crawl: the workspace's one, which builds what ``match.matcher``
#: chooses (the same matcher as sealing and ``copyseal match``).
DEFAULT_MATCHER = "copyseal.registry.build_matcher"
_ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
_CONCURRENT_ITEMS = 16


def user_agent(settings: Settings) -> str:
    """The User-Agent: names copyseal and the operator's contact URL."""
    return settings.crawl.resolved_user_agent()


def scrapy_settings(
    settings: Settings,
    spec: JobSpec,
    job_id: str,
    *,
    matcher: str = DEFAULT_MATCHER,
    progress: bool = False,
) -> dict[str, Any]:
    """Every Scrapy setting a copyseal crawl uses.

    Args:
        settings: The workspace's settings (limits, politeness, browser).
        spec: The job (render mode, robots.txt, private addresses).
        job_id: The job's id (the spider and pipelines read their state from the DB).
        matcher: Import path of the matcher factory ``(engine, settings) -> ImageMatcher``
            (the setting ``COPYSEAL_MATCHER``); only tests name another than the default.
        progress: Print a progress line on stderr while crawling.
    """
    crawl = settings.crawl
    debug = logging.getLogger("copyseal").isEnabledFor(logging.DEBUG)
    s: dict[str, Any] = {
        "BOT_NAME": "copyseal",
        "USER_AGENT": user_agent(settings),
        "ROBOTSTXT_OBEY": spec.obey_robots_txt,
        "TWISTED_REACTOR": _ASYNCIO_REACTOR,
        "CONCURRENT_REQUESTS": crawl.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.per_domain_concurrency,
        # Items of one response processed at once. Scrapy starts this many worker tasks per
        # response (default 100); a page yields a few images, links and one page item,
        # and matching runs on one thread, so 100 tasks a page only cost event-loop time.
        "CONCURRENT_ITEMS": _CONCURRENT_ITEMS,
        "AUTOTHROTTLE_ENABLED": crawl.autothrottle,
        "AUTOTHROTTLE_START_DELAY": crawl.autothrottle_start_delay,
        "AUTOTHROTTLE_MAX_DELAY": crawl.autothrottle_max_delay,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(crawl.per_domain_concurrency),
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        "DOWNLOAD_MAXSIZE": crawl.max_page_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "REDIRECT_MAX_TIMES": crawl.max_redirects,
        "RETRY_TIMES": 1,
        "COOKIES_ENABLED": True,
        "TELNETCONSOLE_ENABLED": False,
        "DEPTH_LIMIT": 0,
        "LOG_LEVEL": "DEBUG" if debug else "WARNING",
        "LOG_ENABLED": True,
        "DOWNLOADER_MIDDLEWARES": {
            "copyseal.crawl._safety.SafetyMiddleware": 50,
            "copyseal.crawl._fetch.BacklogMiddleware": 60,
        },
        "ITEM_PIPELINES": {
            "copyseal.crawl._pipelines.MatchPipeline": 300,
            "copyseal.crawl._pipelines.StorePipeline": 800,
        },
        "EXTENSIONS": {"copyseal.crawl._progress.ProgressExtension": 500},
        "COPYSEAL_SETTINGS": settings,
        "COPYSEAL_JOB_ID": job_id,
        "COPYSEAL_ALLOW_PRIVATE": spec.allow_private,
        "COPYSEAL_MATCHER": matcher,
        "COPYSEAL_PROGRESS": progress,
    }
    if spec.render:
        launch: dict[str, Any] = {
            "headless": True,
            "executable_path": str(crawl.browser_executable),
            "args": list(BROWSER_ARGS),
            "chromium_sandbox": False,
        }
        s.update(
            {
                "DOWNLOAD_HANDLERS": {
                    "http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
                    "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
                },
                "PLAYWRIGHT_BROWSER_TYPE": "chromium",
                "PLAYWRIGHT_LAUNCH_OPTIONS": launch,
                "PLAYWRIGHT_MAX_CONTEXTS": 1,
                "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": crawl.render_concurrency,
                "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": crawl.timeout * 1000,
                "PLAYWRIGHT_ABORT_REQUEST": AddressPolicy(
                    allow_private=spec.allow_private
                ).should_abort,
            }
        )
        if crawl.browser_cdp_url:
            s["PLAYWRIGHT_CDP_URL"] = crawl.browser_cdp_url
    return s
