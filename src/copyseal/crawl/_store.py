"""Reading and writing a crawl job's rows: the frontier, images, matches, status.

Every write is its own short transaction, ordered so that a SIGKILL at any instant leaves
a resumable state: children of a page are queued before the page's images are stored,
and the page is marked done last (a crawl writes images, matches and page statuses in
batches that keep this order: :mod:`copyseal.crawl._records`). Images and matches use
insert-or-ignore on their natural keys, so doing a page again never duplicates a row.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from w3lib.url import canonicalize_url

from copyseal import times
from copyseal.crawl._records import Classifier, image_rows, page_row, write_records
from copyseal.crawl._spec import JobSpec
from copyseal.db.schema.crawl import CrawlImage, CrawlJob, CrawlLinkSkip, CrawlMatch, CrawlPage
from copyseal.db.sql import insert_or_ignore
from copyseal.errors import CrawlError

__all__ = ["Classifier", "FrontierEntry", "JobStore", "new_job_id", "url_key"]


def url_key(url: str) -> str:
    """SHA-256 (hex) of the canonical form of ``url`` (data: URIs hashed as they are)."""
    canonical = url if url.startswith("data:") else canonicalize_url(url, keep_fragments=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, kw_only=True)
class FrontierEntry:
    """A page or sitemap to fetch."""

    url: str
    kind: str  # "page" or "sitemap"
    depth: int


def new_job_id() -> str:
    """A fresh crawl job id (``c`` and 15 hex digits)."""
    return "c" + uuid.uuid4().hex[:15]


class JobStore:
    """The database side of one crawl process (one engine, short transactions)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- jobs ----------------------------------------------------------------------------

    def create_job(
        self,
        spec: JobSpec,
        *,
        conn: Connection | None = None,
        job_id: str | None = None,
        created_at: datetime | None = None,
    ) -> str:
        """Insert a new job (``created``) and return its id; with ``conn``, inside that
        transaction (the scheduler creates a job and claims its run atomically)."""
        job_id = job_id or new_job_id()
        statement = insert(CrawlJob).values(
            job_id=job_id,
            target=spec.target,
            spider=spec.spider,
            render=spec.render,
            status="created",
            spec=spec.dumps(),
            robots_override=spec.robots_override_reason,
            stats="{}",
            runs=0,
            created_at=created_at or times.now(),
        )
        if conn is not None:
            conn.execute(statement)
        else:
            with self.engine.begin() as own:
                own.execute(statement)
        return job_id

    def job(self, job_id: str) -> CrawlJob:
        with self.engine.connect() as conn:
            row = conn.execute(select(CrawlJob).where(CrawlJob.job_id == job_id)).first()
        if row is None:
            raise CrawlError(f"no crawl job {job_id!r} (see 'copyseal crawls')")
        job = CrawlJob(**row._mapping)
        return job

    def spec(self, job_id: str) -> JobSpec:
        return JobSpec.loads(self.job(job_id).spec)

    def start_run(self, job_id: str, pid: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(CrawlJob)
                .where(CrawlJob.job_id == job_id)
                .values(
                    status="running",
                    pid=pid,
                    runs=CrawlJob.runs + 1,
                    started_at=times.now(),
                    finished_at=None,
                )
            )

    def finish_run(self, job_id: str, status: str, stats: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(CrawlJob)
                .where(CrawlJob.job_id == job_id)
                .values(
                    status=status,
                    pid=None,
                    finished_at=times.now(),
                    stats=json.dumps(stats, sort_keys=True, default=str),
                )
            )

    # -- frontier ------------------------------------------------------------------------

    def add_pages(
        self,
        job_id: str,
        entries: Sequence[FrontierEntry],
        *,
        max_pages: int,
        passed_over: Sequence[tuple[FrontierEntry, str]] = (),
        found_on: str | None = None,
    ) -> list[FrontierEntry]:
        """Queue the entries not known yet (pages only while fewer than ``max_pages``
        pages are known); returns those queued.

        The pages left out for the page limit (``max-pages``), and ``passed_over``
        (entries the caller did not queue, with their reason code: ``off-site``,
        ``max-depth``), are recorded once per URL in ``crawl_link_skips``, with the page
        ``found_on``, in the same transaction.
        """
        if not entries and not passed_over:
            return []
        keyed = {url_key(e.url): e for e in entries}
        skipped = {url_key(e.url): (e, code) for e, code in passed_over}
        with self.engine.begin() as conn:
            known = set(
                conn.scalars(
                    select(CrawlPage.url_key).where(
                        CrawlPage.job_id == job_id,
                        CrawlPage.url_key.in_([*keyed, *skipped]),
                    )
                )
            )
            pages = conn.scalar(
                select(func.count())
                .select_from(CrawlPage)
                .where(CrawlPage.job_id == job_id, CrawlPage.kind == "page")
            )
            room = max_pages - int(pages or 0)
            new: list[FrontierEntry] = []
            queued: set[str] = set()
            rows = []
            for key, e in keyed.items():
                if key in known:
                    continue
                if e.kind == "page":
                    if room <= 0:
                        skipped.setdefault(key, (e, "max-pages"))
                        continue
                    room -= 1
                new.append(e)
                queued.add(key)
                rows.append(
                    {
                        "job_id": job_id,
                        "url_key": key,
                        "url": e.url,
                        "kind": e.kind,
                        "depth": e.depth,
                        "status": "queued",
                        "images": 0,
                    }
                )
            insert_or_ignore(conn, CrawlPage, rows, index_elements=["job_id", "url_key"])
            skips = [
                {
                    "job_id": job_id,
                    "url_key": key,
                    "url": e.url,
                    "reason_code": code,
                    "found_on": found_on,
                }
                for key, (e, code) in skipped.items()
                if key not in known and key not in queued
            ]
            if skips:
                insert_or_ignore(conn, CrawlLinkSkip, skips, index_elements=["job_id", "url_key"])
        return new

    def pending(self, job_id: str) -> list[FrontierEntry]:
        """Entries still to fetch, sitemaps first, shallow first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(CrawlPage.url, CrawlPage.kind, CrawlPage.depth)
                .where(CrawlPage.job_id == job_id, CrawlPage.status == "queued")
                .order_by(CrawlPage.kind.desc(), CrawlPage.depth, CrawlPage.id)
            ).all()
        return [FrontierEntry(url=u, kind=k, depth=d) for u, k, d in rows]

    def finish_page(
        self,
        job_id: str,
        url: str,
        *,
        status: str,
        http_status: int | None = None,
        reason: str | None = None,
        reason_code: str | None = None,
        final_url: str | None = None,
        images: int = 0,
    ) -> None:
        """Record a fetched page's status; ``reason_code`` (a code of
        :mod:`copyseal.crawl.reasons`) says why it is not done, ``reason`` the detail."""
        row = page_row(
            job_id,
            url_key(url),
            status=status,
            http_status=http_status,
            reason=reason,
            reason_code=reason_code,
            final_url=final_url,
            images=images,
            now=times.now(),
        )
        with self.engine.begin() as conn:
            write_records(conn, pages=[row])

    # -- images and matches --------------------------------------------------------------

    def record_image(
        self,
        job_id: str,
        *,
        page_url: str,
        image_url: str,
        sha256: str | None,
        size: int | None,
        fmt: str | None,
        status: str,
        reason: str | None,
        outcome: list[dict[str, Any]],
        location: dict[str, Any],
        reason_code: str | None = None,
        classify: Classifier | None = None,
    ) -> int:
        """Store an image (once per URL) and a match row per work found; returns the
        number of match rows that are new.

        ``classify(work_id, page_url, at)`` gives each match's licence and note
        (:meth:`copyseal.licences.LicenceIndex.classify`), stored on its row. A crawl
        batches the same rows (:class:`~copyseal.crawl._records.RecordBatch`)."""
        image, matches = image_rows(
            job_id,
            image_key=url_key(image_url),
            page_key=lambda: url_key(page_url),
            page_url=page_url,
            image_url=image_url,
            sha256=sha256,
            size=size,
            fmt=fmt,
            status=status,
            reason=reason,
            reason_code=reason_code,
            outcome=outcome,
            location=location,
            classify=classify,
            now=times.now(),
        )
        with self.engine.begin() as conn:
            return write_records(conn, images=[image], matches=matches)

    def processed_images(
        self, job_id: str
    ) -> tuple[dict[str, tuple[str | None, str, str | None]], dict[str, list[dict[str, Any]]]]:
        """What a resumed crawl knows already: ``url -> (sha256, status, reason)`` and
        ``sha256 -> outcome``."""
        by_url: dict[str, tuple[str | None, str, str | None]] = {}
        by_sha: dict[str, list[dict[str, Any]]] = {}
        with self.engine.connect() as conn:
            for url, sha, status, reason, outcome in conn.execute(
                select(
                    CrawlImage.url,
                    CrawlImage.sha256,
                    CrawlImage.status,
                    CrawlImage.reason,
                    CrawlImage.outcome,
                ).where(CrawlImage.job_id == job_id)
            ):
                by_url[url] = (sha, status, reason)
                if sha is not None and status == "ok":
                    by_sha[sha] = json.loads(outcome)
        return by_url, by_sha

    # -- reading -------------------------------------------------------------------------

    def counts(self, job_id: str) -> dict[str, dict[str, int]]:
        """Pages by status (pages only, not sitemaps) and images by status."""
        with self.engine.connect() as conn:
            pages = conn.execute(
                select(CrawlPage.status, func.count())
                .where(CrawlPage.job_id == job_id, CrawlPage.kind == "page")
                .group_by(CrawlPage.status)
            ).all()
            images = conn.execute(
                select(CrawlImage.status, func.count())
                .where(CrawlImage.job_id == job_id)
                .group_by(CrawlImage.status)
            ).all()
            matches = conn.scalar(
                select(func.count()).select_from(CrawlMatch).where(CrawlMatch.job_id == job_id)
            )
        return {
            "pages": {s: int(n) for s, n in pages},
            "images": {s: int(n) for s, n in images},
            "matches": {"total": int(matches or 0)},
        }

    def jobs(self) -> list[CrawlJob]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(CrawlJob).order_by(CrawlJob.created_at)).all()
        return [CrawlJob(**r._mapping) for r in rows]

    def matches(self, job_ids: Iterable[str] | None = None) -> list[CrawlMatch]:
        stmt = select(CrawlMatch).order_by(CrawlMatch.found_at, CrawlMatch.id)
        if job_ids is not None:
            stmt = stmt.where(CrawlMatch.job_id.in_(list(job_ids)))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [CrawlMatch(**r._mapping) for r in rows]
