"""The ``crawl`` section: crawl limits, named targets and their schedules."""

from __future__ import annotations

from pathlib import Path

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from copyseal.config._base import NamedKeyError, _Section

__all__ = ["CrawlSchedule", "CrawlSettings", "CrawlTarget"]


class CrawlTarget(_Section):
    """A site to crawl, named under ``crawl.targets`` (part of :class:`CrawlSettings`).

    Each key's ``title`` and ``description`` document it here and label it in the review
    app, whose target form and JSON API are built from this model (``copyseal.web``): a
    key added here is editable there.
    """

    urls: list[str] = Field(
        min_length=1,
        title="Start URLs",
        description="http or https; in config.yaml, the urls spider takes files of URLs"
        " instead, one a line",
    )
    spider: str = Field(
        default="site",
        title="Spider",
        description="site follows links and robots.txt sitemaps; sitemap, urls, or the name"
        " of a site-specific spider in crawl.spiders_dir",
    )
    render: bool = Field(
        default=False,
        title="Render pages in Chromium",
        description="finds JavaScript and lazy-loaded images; about 30 times slower",
    )
    allowed_domains: list[str] = Field(
        default=[],
        title="Allowed domains",
        description="whose pages are followed; default: the start URLs' hosts and subdomains",
        json_schema_extra={"commas_separate": True},
    )
    max_pages: int | None = Field(
        default=None, gt=0, title="Max pages", description="default: the crawl section's"
    )
    max_depth: int | None = Field(
        default=None, ge=0, title="Max depth", description="default: the crawl section's"
    )
    allow_private: bool = Field(
        default=False,
        title="Allow private addresses",
        description="private, loopback and link-local addresses; for local test sites only",
    )
    obey_robots_txt: bool = Field(
        default=True,
        title="Obey robots.txt",
        description="not obeying must be explicit: false needs robots_override_reason",
    )
    robots_override_reason: str | None = Field(
        default=None,
        title="Reason for not obeying robots.txt",
        description="recorded with every crawl job of the target",
    )

    @field_validator("robots_override_reason")
    @classmethod
    def _reason_not_blank(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must not be blank")
        return v

    @model_validator(mode="after")
    def _override_is_explained(self) -> CrawlTarget:
        if not self.obey_robots_txt and not self.robots_override_reason:
            raise ValueError("obey_robots_txt: false needs robots_override_reason")
        return self


class CrawlSchedule(_Section):
    """A recurring crawl of a target, named under ``crawl.schedules`` (``copyseal scheduler``).

    Cron expressions are evaluated in UTC (see :mod:`copyseal._cron`).
    """

    target: str = Field(title="Target", description="the name of a target under crawl.targets")
    cron: str = Field(
        title="Cron",
        description="five fields in UTC, or @daily ...; 0 3 * * * is 03:00 UTC daily",
        examples=["0 3 * * *"],
    )
    revisit_matches: bool = Field(
        default=False,
        title="Also re-visit pages with earlier matches",
        description="every page where earlier crawls of the target found a match is crawled"
        " again, so their continued use is captured as new evidence",
    )
    enabled: bool = Field(
        default=True,
        title="Schedule enabled",
        description="a disabled schedule is listed but never run",
    )

    @field_validator("cron")
    @classmethod
    def _cron_ok(cls, v: str) -> str:
        from copyseal._cron import parse_cron

        parse_cron(v)  # CronError is a ValueError: reported with the key and value
        return v.strip()


class CrawlSettings(_Section):
    """How copyseal crawls other people's sites (see ``copyseal.crawl``)."""

    #: The User-Agent names copyseal and where to reach its operator.
    user_agent: str = "copyseal/{version} (+{contact_url})"
    contact_url: str = "https://example.invalid/copyseal-contact"
    obey_robots_txt: bool = True
    #: Chromium used for rendering and capture (Debian's package by default).
    browser_executable: Path = Path("/usr/bin/chromium")
    #: Connect to a running Chromium over CDP instead of launching one (null: launch).
    browser_cdp_url: str | None = None
    #: Folder of Scrapy spiders (null: the ``spiders/`` folder of the copyseal checkout).
    spiders_dir: Path | None = None
    #: Default limits per crawl.
    max_pages: int = Field(default=1000, gt=0)
    max_depth: int = Field(default=5, ge=0)
    #: Concurrent requests in all, per domain, and browser pages at once (render mode).
    concurrency: int = Field(default=16, gt=0)
    per_domain_concurrency: int = Field(default=4, gt=0)
    render_concurrency: int = Field(default=4, gt=0)
    #: AutoThrottle adapts the delay to the server's latency (start and max delay, s).
    autothrottle: bool = True
    autothrottle_start_delay: float = Field(default=1.0, ge=0)
    autothrottle_max_delay: float = Field(default=30.0, gt=0)
    #: Per-request timeout (s), redirects followed at most, and the largest page (bytes).
    timeout: float = Field(default=30.0, gt=0)
    max_redirects: int = Field(default=5, ge=0)
    max_page_bytes: int = Field(default=10_000_000, gt=0)
    #: Image fetches at most per page (any host), and per foreign host in one crawl (a
    #: host that is neither the page's nor in the allowed domains): a page cannot aim
    #: the crawler at a third party (copyseal.crawl._caps).
    max_images_per_page: int = Field(default=200, gt=0)
    max_images_per_host: int = Field(default=1000, gt=0)
    #: Render mode: wheel steps at most, and how long to wait for the network to settle (s).
    scroll_steps: int = Field(default=30, ge=0)
    settle_timeout: float = Field(default=5.0, ge=0)
    #: Render mode: a page has settled after this long (s) without network or image DOM
    #: activity; timers its scripts set to fire within ``render_timer_window`` s of its
    #: start are waited for (images inserted late; 0: the network alone decides); a new
    #: browser context every ``render_pages_per_context`` pages (0: one for the crawl; over
    #: 1,000 pages one context stayed flat and rotation every 100 raised the peak:
    #: ``benchmarks/README.md``).
    render_quiet: float = Field(default=0.3, ge=0)
    render_timer_window: float = Field(default=2.5, ge=0)
    render_pages_per_context: int = Field(default=0, ge=0)
    #: Networks copyseal may fetch from although they are not global (CIDR, e.g.
    #: ``10.20.0.0/16``): every crawl, render and capture (``--allow-network`` adds more).
    #: Only config.yaml and the command line can allow them, never a web-app target.
    allow_networks: list[str] = []

    @field_validator("allow_networks")
    @classmethod
    def _networks_are_cidr(cls, v: list[str]) -> list[str]:
        import ipaddress

        for item in v:
            try:
                ipaddress.ip_network(item.strip(), strict=True)
            except ValueError as e:
                raise ValueError(f"{item!r} is not a network in CIDR form: {e}") from e
        return [item.strip() for item in v]

    def resolved_user_agent(self) -> str:
        """The User-Agent with copyseal's version and the contact URL filled in."""
        from copyseal import __version__

        return self.user_agent.format(version=__version__, contact_url=self.contact_url)

    #: Named sites to crawl: ``copyseal crawl NAME`` (see CrawlTarget for the keys).
    targets: dict[str, CrawlTarget] = {}
    #: Recurring crawls of targets, run by ``copyseal scheduler`` (see CrawlSchedule).
    schedules: dict[str, CrawlSchedule] = {}

    @model_validator(mode="after")
    def _schedules_name_targets(self) -> CrawlSettings:
        for name, schedule in self.schedules.items():
            if not name or len(name) > 64 or any(c.isspace() for c in name):
                raise NamedKeyError(
                    f"schedules.{name}", name, "a schedule name has 1-64 characters, no spaces"
                )
            if schedule.target not in self.targets:
                known = ", ".join(sorted(self.targets)) or "none configured"
                raise NamedKeyError(
                    f"schedules.{name}.target",
                    schedule.target,
                    f"not a target under crawl.targets ({known})",
                )
        return self
