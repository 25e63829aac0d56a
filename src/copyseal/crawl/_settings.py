"""The Scrapy settings of a crawl job, built from copyseal's settings in one place."""

from __future__ import annotations

import logging
from typing import Any

from copyseal.capture.session import CHROMIUM_ARGS
from copyseal.config import Settings
from copyseal.crawl._contexts import EVERY_SETTING
from copyseal.crawl._safety import POLICY_SETTING
from copyseal.crawl._spec import DEFAULT_MATCHER, JobSpec
from copyseal.errors import CrawlError
from copyseal.netpolicy import AddressPolicy, EgressProxy

__all__ = ["BROWSER_ARGS", "DEFAULT_MATCHER", "scrapy_settings"]

#: Chromium flags: the same as evidence capture's (no sandbox as root, nothing phoning home).
BROWSER_ARGS = CHROMIUM_ARGS
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
    policy: AddressPolicy | None = None,
    proxy: EgressProxy | None = None,
) -> dict[str, Any]:
    """Every Scrapy setting a copyseal crawl uses.

    Args:
        settings: The workspace's settings (limits, politeness, browser).
        spec: The job (render mode, robots.txt, private addresses).
        job_id: The job's id (the spider and pipelines read their state from the DB).
        matcher: Import path of the matcher factory ``(engine, settings) -> ImageMatcher``
            (the setting ``COPYSEAL_MATCHER``); only tests name another than the default.
        progress: Print a progress line on stderr while crawling.
        policy: The crawl's address policy (default: :meth:`JobSpec.policy`); one object
            shared by the middleware, the resolver and the render browser's checks.
        proxy: Render mode: the started egress proxy the browser must go through
            (default: one started here, living as long as the process: a crawl runs
            once per process).
    """
    policy = policy or spec.policy(settings)
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
        # Each host's concurrency holds for images too (copyseal.crawl._downloader).
        "DOWNLOADER": "copyseal.crawl._downloader.SlotBoundDownloader",
        "DOWNLOADER_MIDDLEWARES": {
            "copyseal.crawl._safety.SafetyMiddleware": 50,
            "copyseal.crawl._fetch.BacklogMiddleware": 60,
        },
        "ITEM_PIPELINES": {
            "copyseal.crawl._pipelines.MatchPipeline": 300,
            "copyseal.crawl._pipelines.StorePipeline": 800,
        },
        "EXTENSIONS": {
            "copyseal.crawl._progress.ProgressExtension": 500,
            # Scrapy 2.19 enables RemoteControl by default: an HTTP server on localhost
            # that runs any Python code it is sent inside the crawl process (its token is
            # written under ~/.local/state/scrapy/job_files). A crawl that records
            # evidence needs no such door; left out (not only disabled), aiohttp is not
            # imported either (~0.1 s of every crawl's start). Telnet is off as well.
            "scrapy.extensions.remote_control.RemoteControl": None,
            "scrapy.extensions.telnet.TelnetConsole": None,
        },
        "REMOTE_CONTROL_ENABLED": False,
        "COPYSEAL_SETTINGS": settings,
        "COPYSEAL_JOB_ID": job_id,
        "COPYSEAL_ALLOW_PRIVATE": spec.allow_private,
        POLICY_SETTING: policy,
        # Connections go to the address the policy resolved and checked (no rebinding).
        "TWISTED_DNS_RESOLVER": "copyseal.crawl._resolver.PinnedResolver",
        # Scrapy's HttpProxyMiddleware would send every request to an ``http_proxy`` /
        # ``https_proxy`` of the environment, which resolves names and connects itself:
        # the pin above would be void (measured: the proxy's answer was stored as the
        # page). The crawl connects directly, as the browsers' egress proxy does.
        "HTTPPROXY_ENABLED": False,
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
        if proxy is None and not crawl.browser_cdp_url:
            proxy = EgressProxy(policy=policy).start()
        if proxy is not None:
            launch["args"] += list(proxy.chromium_args())
            launch["proxy"] = proxy.playwright_proxy()
        # After the retry middleware (550): a context is chosen as a request is downloaded.
        s["DOWNLOADER_MIDDLEWARES"]["copyseal.crawl._contexts.ContextMiddleware"] = 900
        s.update(
            {
                "DOWNLOAD_HANDLERS": {
                    "http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
                    "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
                },
                "PLAYWRIGHT_BROWSER_TYPE": "chromium",
                "PLAYWRIGHT_LAUNCH_OPTIONS": launch,
                # Rotated contexts are bounded by copyseal.crawl._contexts (a retired one
                # closes with its last page): scrapy-playwright's semaphore is taken while
                # it holds the lock every page creation needs, so a cap here could stall
                # the retired context's last pages behind its successor.
                "PLAYWRIGHT_MAX_CONTEXTS": 0 if crawl.render_pages_per_context else 1,
                EVERY_SETTING: crawl.render_pages_per_context,
                "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": crawl.render_concurrency,
                "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": crawl.timeout * 1000,
                "PLAYWRIGHT_ABORT_REQUEST": policy.should_abort,
            }
        )
        if crawl.browser_cdp_url:
            if not policy.allow_private:
                # A browser reached over CDP was not launched through the egress proxy
                # (measured: a render crawl over CDP fetched 8 internal URLs the policy
                # refuses); until its contexts get the proxy, refuse rather than go around.
                raise CrawlError(
                    f"crawl.browser_cdp_url={crawl.browser_cdp_url}: a browser reached over"
                    " CDP does not go through copyseal's egress proxy, so render mode cannot"
                    " enforce the address policy with it; unset it (copyseal launches its"
                    " own browser) or crawl with --allow-private"
                )
            s["PLAYWRIGHT_CDP_URL"] = crawl.browser_cdp_url
    return s
