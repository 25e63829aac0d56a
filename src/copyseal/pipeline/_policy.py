"""The pipeline's policies: when a crawl is sealed, and which pages a schedule re-visits.

Each is one function so that the command line, the scheduler, a worker and the web app
decide alike:

- **Capture on match** (:func:`seals_after_crawl`): a page where a crawl found a
  registered work is captured and sealed right after the crawl (pages change, so the
  capture is taken before any review), as ``capture.on_match`` says unless the caller
  decides for this run.
- **Resuming** (:func:`copyseal.pipeline.resume`): resuming a finished job is not an
  error when it is to be sealed: its matches without a bundle (a crawl killed while
  sealing, or crawled without capture) are sealed then.
- **Re-visits** (:func:`revisit_pages`): a schedule with ``revisit_matches`` queues again
  every page where an earlier job of its target found a work that is still registered,
  so continued use is captured again as new evidence.
"""

from __future__ import annotations

from sqlalchemy import select

from copyseal.config import Settings
from copyseal.db.schema.crawl import CrawlJob, CrawlMatch
from copyseal.db.schema.works import Work
from copyseal.workspace import Workspace

__all__ = ["revisit_pages", "seals_after_crawl"]


def seals_after_crawl(settings: Settings, seal: bool | None = None) -> bool:
    """Whether the pages with matches are captured and sealed after a crawl: ``seal`` if
    the caller decided (``--capture/--no-capture``), else ``capture.on_match``."""
    return settings.capture.on_match if seal is None else seal


def revisit_pages(workspace: Workspace, target: str) -> list[str]:
    """Pages where earlier jobs of ``target`` found a work that is still registered (the
    pages a ``revisit_matches`` schedule crawls again), in URL order."""
    with workspace.engine.connect() as conn:
        return list(
            conn.scalars(
                select(CrawlMatch.page_url)
                .join(CrawlJob, CrawlJob.job_id == CrawlMatch.job_id)
                .join(Work, Work.work_id == CrawlMatch.work_id)
                .where(CrawlJob.target == target, Work.removed_at.is_(None))
                .group_by(CrawlMatch.page_url)
                .order_by(CrawlMatch.page_url)
            )
        )
