"""Reading and writing a crawl job's rows: the frontier, images, matches, status.

Every write is its own short transaction, ordered so that a SIGKILL at any instant leaves
a resumable state: children of a page are queued before the page's images are stored,
and the page is marked done last. Images and matches use insert-or-ignore on their
natural keys, so doing a page again never duplicates a row.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from w3lib.url import canonicalize_url

from copyseal.crawl._spec import JobSpec
from copyseal.db.schema.crawl import CrawlImage, CrawlJob, CrawlMatch, CrawlPage
from copyseal.errors import CrawlError

__all__ = ["FrontierEntry", "JobStore", "new_job_id", "url_key"]


def url_key(url: str) -> str:
    """SHA-256 (hex) of the canonical form of ``url`` (data: URIs hashed as they are)."""
    canonical = url if url.startswith("data:") else canonicalize_url(url, keep_fragments=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class FrontierEntry:
    """A page or sitemap to fetch."""

    url: str
    kind: str  # "page" or "sitemap"
    depth: int


def _insert_ignore(
    conn: Connection, table: Any, rows: list[dict[str, Any]], keys: list[str]
) -> None:
    if not rows:
        return
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    # Rows as parameters (executemany), not literal values: the statement is compiled once
    # per table and reused from SQLAlchemy's cache instead of per call.
    stmt = dialect.insert(table).on_conflict_do_nothing(index_elements=keys)
    conn.execute(stmt, rows)


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
            created_at=created_at or _now(),
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
                    started_at=_now(),
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
                    finished_at=_now(),
                    stats=json.dumps(stats, sort_keys=True, default=str),
                )
            )

    # -- frontier ------------------------------------------------------------------------

    def add_pages(
        self, job_id: str, entries: Sequence[FrontierEntry], *, max_pages: int
    ) -> list[FrontierEntry]:
        """Queue the entries not known yet (pages only while fewer than ``max_pages``
        pages are known); returns those queued."""
        if not entries:
            return []
        keyed = {url_key(e.url): e for e in entries}
        with self.engine.begin() as conn:
            known = set(
                conn.scalars(
                    select(CrawlPage.url_key).where(
                        CrawlPage.job_id == job_id, CrawlPage.url_key.in_(list(keyed))
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
            rows = []
            for key, e in keyed.items():
                if key in known:
                    continue
                if e.kind == "page":
                    if room <= 0:
                        continue
                    room -= 1
                new.append(e)
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
            _insert_ignore(conn, CrawlPage.__table__, rows, ["job_id", "url_key"])
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
        final_url: str | None = None,
        images: int = 0,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(CrawlPage)
                .where(CrawlPage.job_id == job_id, CrawlPage.url_key == url_key(url))
                .values(
                    status=status,
                    http_status=http_status,
                    reason=reason,
                    final_url=final_url,
                    images=images,
                    fetched_at=_now(),
                )
            )

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
    ) -> int:
        """Store an image (once per URL) and a match row per work found; returns the
        number of match rows that are new."""
        now = _now()
        image_key = url_key(image_url)
        page_key = url_key(page_url)
        with self.engine.begin() as conn:
            _insert_ignore(
                conn,
                CrawlImage.__table__,
                [
                    {
                        "job_id": job_id,
                        "url_key": image_key,
                        "url": image_url,
                        "sha256": sha256,
                        "size": size,
                        "format": fmt,
                        "status": status,
                        "reason": reason,
                        "outcome": json.dumps(outcome, sort_keys=True),
                        "fetched_at": now,
                    }
                ],
                ["job_id", "url_key"],
            )
            if not outcome or sha256 is None:
                return 0
            before = conn.scalar(
                select(func.count())
                .select_from(CrawlMatch)
                .where(
                    CrawlMatch.job_id == job_id,
                    CrawlMatch.page_key == page_key,
                    CrawlMatch.image_key == image_key,
                )
            )
            _insert_ignore(
                conn,
                CrawlMatch.__table__,
                [
                    {
                        "job_id": job_id,
                        "page_key": page_key,
                        "image_key": image_key,
                        "page_url": page_url,
                        "image_url": image_url,
                        "work_id": m["work_id"],
                        "score": float(m["score"]),
                        "image_sha256": sha256,
                        "location": json.dumps(location, sort_keys=True),
                        "detail": json.dumps(m, sort_keys=True),
                        "found_at": now,
                    }
                    for m in outcome
                ],
                ["job_id", "page_key", "image_key", "work_id"],
            )
            after = conn.scalar(
                select(func.count())
                .select_from(CrawlMatch)
                .where(
                    CrawlMatch.job_id == job_id,
                    CrawlMatch.page_key == page_key,
                    CrawlMatch.image_key == image_key,
                )
            )
        return int(after or 0) - int(before or 0)

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
