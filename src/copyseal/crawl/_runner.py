"""Running a crawl job in this process with Scrapy, and finding the spiders by path.

``copyseal`` never imports ``spiders/`` as a package: :func:`load_spiders` loads every
``*.py`` file of the spiders folder (``crawl.spiders_dir``, default: the ``spiders/``
folder of the copyseal checkout) by path, under the module namespace
``copyseal_spiders``, and picks the :class:`CopysealSpider` subclasses with a ``name``.

Scrapy runs with the asyncio reactor (scrapy-playwright needs it; a wrong reactor makes
every rendered request fail while the crawl still "succeeds", so the job's statistics
are checked). A reactor runs once per process: one crawl per process.
"""

from __future__ import annotations

import gc
import importlib.util
import logging
import os
import sys
import types
from pathlib import Path
from typing import Any

from copyseal.config import Settings
from copyseal.crawl._settings import DEFAULT_MATCHER, scrapy_settings
from copyseal.crawl._spec import JobSpec
from copyseal.crawl._spider import CopysealSpider
from copyseal.crawl._store import JobStore
from copyseal.errors import CrawlError
from copyseal.netpolicy import AddressPolicy, EgressProxy

__all__ = ["load_spiders", "run_job", "spiders_dir"]

log = logging.getLogger(__name__)
_NAMESPACE = "copyseal_spiders"


def spiders_dir(settings: Settings) -> Path:
    """The spiders folder: ``crawl.spiders_dir`` (relative to the config file's folder),
    else the ``spiders/`` folder beside copyseal's ``src/``."""
    configured = settings.crawl.spiders_dir
    if configured is None:
        return Path(__file__).resolve().parents[3] / "spiders"
    configured = configured.expanduser()
    return configured if configured.is_absolute() else settings.base_dir / configured


def load_spiders(folder: Path) -> dict[str, type[CopysealSpider]]:
    """Every copyseal spider defined in ``folder/*.py`` by name.

    Raises:
        CrawlError: the folder does not exist, a file fails to import, or two spiders
            share a name.
    """
    if not folder.is_dir():
        raise CrawlError(f"spiders folder {folder} not found (set crawl.spiders_dir)")
    package = sys.modules.get(_NAMESPACE)
    if package is None:
        package = types.ModuleType(_NAMESPACE)
        package.__path__ = [str(folder)]
        sys.modules[_NAMESPACE] = package
    found: dict[str, type[CopysealSpider]] = {}
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        name = f"{_NAMESPACE}.{path.stem}"
        module = sys.modules.get(name)
        if module is None:
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except Exception as e:
                del sys.modules[name]
                raise CrawlError(f"spider file {path}: {e.__class__.__name__}: {e}") from e
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, CopysealSpider)
                and value is not CopysealSpider
                and value.__module__ == name
            ):
                if value.name in found and found[value.name] is not value:
                    raise CrawlError(f"two spiders are named {value.name!r} in {folder}")
                found[value.name] = value
    return found


def _freeze_heap() -> None:
    """Move every object alive now out of the cyclic garbage collector's reach.

    A crawl process holds ~230,000 tracked objects once Scrapy, SQLAlchemy and the
    matcher are imported and built; each full collection walks all of them (0.03-0.12 s
    each, measured) and interpreter shutdown walked them again, repeatedly (1.2-1.4 s
    from the last ``atexit`` handler to the exit of a 300-page crawl; 0.06 s once
    frozen). They live as long as the process (a crawl runs once per process), so
    ``gc.freeze`` (Python's documented way to exempt long-lived objects) loses nothing;
    objects made later are collected as before.
    """
    gc.freeze()


def _final_status(store: JobStore, job_id: str, reason: str) -> str:
    pending = store.pending(job_id)
    if reason == "finished" and not pending:
        return "finished"
    return "stopped"


def run_job(
    settings: Settings,
    store: JobStore,
    job_id: str,
    *,
    matcher: str = DEFAULT_MATCHER,
    progress: bool = False,
) -> dict[str, Any]:
    """Run (or resume) a job to its end in this process; returns Scrapy's statistics.

    Raises:
        CrawlError: unknown spider, or the crawl could not run at all.
    """
    spec = store.spec(job_id)
    spiders = load_spiders(spiders_dir(settings))
    spider_cls = spiders.get(spec.spider)
    if spider_cls is None:
        raise CrawlError(f"no spider named {spec.spider!r} (known: {', '.join(sorted(spiders))})")
    policy = spec.policy(settings)
    # The render browser's requests go through an egress proxy that obeys the policy
    # (a browser reached over CDP is not launched here: only the abort check guards it).
    proxy = EgressProxy(policy=policy) if spec.render else None
    if proxy is not None:
        proxy.start()
    try:
        return _run(settings, store, job_id, spec, spider_cls, matcher, progress, policy, proxy)
    finally:
        if proxy is not None:
            proxy.close()


def _run(
    settings: Settings,
    store: JobStore,
    job_id: str,
    spec: JobSpec,
    spider_cls: type[CopysealSpider],
    matcher: str,
    progress: bool,
    policy: AddressPolicy,
    proxy: EgressProxy | None,
) -> dict[str, Any]:
    from scrapy import signals
    from scrapy.crawler import AsyncCrawlerProcess

    process = AsyncCrawlerProcess(
        {
            **scrapy_settings(
                settings,
                spec,
                job_id,
                matcher=matcher,
                progress=progress,
                policy=policy,
                proxy=proxy,
            ),
            "LOG_INSTALL_ROOT_HANDLER": False,
        }
    )
    logging.getLogger("scrapy").setLevel(
        logging.DEBUG if log.isEnabledFor(logging.DEBUG) else logging.WARNING
    )
    crawler = process.create_crawler(spider_cls)
    # Once every component is built (imports, matcher), before the first page.
    crawler.signals.connect(_freeze_heap, signal=signals.spider_opened)
    store.start_run(job_id, os.getpid())
    status = "failed"
    stats: dict[str, Any] = {}
    try:
        process.crawl(crawler)
        process.start()
        _freeze_heap()  # what the crawl left is freed with the process, not walked at exit
        stats = dict(crawler.stats.get_stats()) if crawler.stats else {}
        if proxy is not None:
            # The render browser's requests the egress proxy refused (sub-resources,
            # frames, WebSockets, redirect hops), with the first few targets.
            stats["copyseal/egress_refused"] = len(proxy.refusals)
            stats["copyseal/egress_refused_targets"] = [r.target for r in proxy.refusals[:20]]
        status = _final_status(store, job_id, str(stats.get("finish_reason", "")))
    finally:
        store.finish_run(job_id, status, stats)
    return stats
