"""What a crawl job is asked to do (stored with the job, so a resume does the same)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from copyseal.config import CrawlTarget, Settings
from copyseal.errors import CrawlError
from copyseal.netpolicy import AddressPolicy, parse_networks

__all__ = ["BUILTIN_SPIDERS", "DEFAULT_MATCHER", "JobSpec", "spec_for"]

BUILTIN_SPIDERS = ("site", "sitemap", "urls")
#: The matcher factory of a crawl: the workspace's one, which builds what ``match.matcher``
#: chooses (the same matcher as sealing and ``copyseal match``).
DEFAULT_MATCHER = "copyseal.registry.build_matcher"


@dataclass(frozen=True, kw_only=True)
class JobSpec:
    """A crawl's parameters.

    Attributes:
        target: The configured target's name, or ``"cli"`` for URLs given directly.
        urls: Start URLs (for the ``urls`` spider: paths of files of URLs).
        spider: Spider name (``site``, ``sitemap``, ``urls`` or a site-specific one).
        render: Render pages in Chromium.
        allowed_domains: Pages are followed only on these domains (and subdomains).
        max_pages: Pages fetched at most (sitemaps not counted).
        max_depth: Link depth from the start URLs at most.
        allow_private: Private/loopback/link-local addresses may be fetched.
        allow_networks: Networks (CIDR) that may be fetched although not global
            (``--allow-network``; ``crawl.allow_networks`` is added when the job runs).
        obey_robots_txt: Obey robots.txt.
        robots_override_reason: Why robots.txt is not obeyed (recorded with the job).
    """

    target: str
    urls: tuple[str, ...]
    spider: str = "site"
    render: bool = False
    allowed_domains: tuple[str, ...] = ()
    max_pages: int = 1000
    max_depth: int = 5
    allow_private: bool = False
    allow_networks: tuple[str, ...] = ()
    obey_robots_txt: bool = True
    robots_override_reason: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.urls:
            raise CrawlError("a crawl needs at least one URL (or a file of URLs)")
        if not self.obey_robots_txt and not self.robots_override_reason:
            raise CrawlError("not obeying robots.txt needs a recorded reason")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def policy(self, settings: Settings) -> AddressPolicy:
        """The job's address policy: its own allowances plus ``crawl.allow_networks``."""
        return AddressPolicy.build(
            allow_private=self.allow_private,
            networks=(*settings.crawl.allow_networks, *self.allow_networks),
            source="crawl.allow_networks / --allow-network",
        )

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def loads(cls, text: str) -> JobSpec:
        data = json.loads(text)
        for key in ("urls", "allowed_domains", "allow_networks"):
            data[key] = tuple(data.get(key, ()))
        return cls(**data)


def _domains(urls: tuple[str, ...]) -> tuple[str, ...]:
    hosts = []
    for u in urls:
        host = urlsplit(u).hostname
        if host:
            hosts.append(host.removeprefix("www."))
    return tuple(dict.fromkeys(hosts))


def spec_for(
    settings: Settings,
    targets_or_urls: tuple[str, ...],
    *,
    spider: str | None = None,
    render: bool | None = None,
    max_pages: int | None = None,
    max_depth: int | None = None,
    allow_private: bool | None = None,
    allow_networks: tuple[str, ...] = (),
    robots_override_reason: str | None = None,
) -> JobSpec:
    """The job for a configured target name, or for URLs (or files of URLs) given directly.

    Flags given here override the target's configuration, which overrides the crawl
    section's defaults.

    Raises:
        CrawlError: unknown target, mixed target and URLs, nothing to crawl.
        ConfigError: an ``allow_networks`` value is not a CIDR network.
    """
    networks = tuple(str(n) for n in parse_networks(allow_networks, source="--allow-network"))
    crawl = settings.crawl
    names = [t for t in targets_or_urls if t in crawl.targets]
    if names and len(targets_or_urls) > 1:
        raise CrawlError("give one configured target, or URLs; not both")
    if names:
        t: CrawlTarget = crawl.targets[names[0]]
        target = names[0]
        urls = tuple(t.urls)
    else:
        for item in targets_or_urls:
            if "://" not in item and spider != "urls":
                known = ", ".join(sorted(crawl.targets)) or "none configured"
                raise CrawlError(f"{item!r} is neither a URL nor a configured target ({known})")
        t = CrawlTarget(urls=list(targets_or_urls) or ["-"])
        target = "cli"
        urls = tuple(targets_or_urls)
    chosen_spider = spider or t.spider
    obey = t.obey_robots_txt and crawl.obey_robots_txt
    reason = robots_override_reason or t.robots_override_reason
    if robots_override_reason:
        obey = False
    if not obey and not reason:
        raise CrawlError(
            "robots.txt is not obeyed (crawl.obey_robots_txt: false) but no reason is given:"
            " pass --ignore-robots REASON or set the target's robots_override_reason"
        )
    return JobSpec(
        target=target,
        urls=urls,
        spider=chosen_spider,
        render=t.render if render is None else render,
        allowed_domains=tuple(t.allowed_domains)
        or (_domains(urls) if chosen_spider != "urls" else ()),
        max_pages=max_pages or t.max_pages or crawl.max_pages,
        max_depth=(
            max_depth
            if max_depth is not None
            else (t.max_depth if t.max_depth is not None else crawl.max_depth)
        ),
        allow_private=t.allow_private if allow_private is None else allow_private,
        allow_networks=networks,
        obey_robots_txt=obey,
        robots_override_reason=None if obey else reason,
    )
