"""The crawler's tables: jobs, the page frontier, images seen, and matches found.

Scheduled runs (``schedule_runs``) are here too: migration ``0006_schedule`` creates them.
Crawl targets kept in the database (``crawl_targets``, managed by admins in the review app,
beside those of ``config.yaml``) and their change history (``crawl_target_events``):
migration ``0008_crawl_targets``.

The frontier lives in the database (not in Scrapy's ``JOBDIR``) so that a crawl killed
with SIGKILL resumes exactly: a page row becomes ``done`` only in the transaction that
follows the storing of every image of that page, and images and matches are inserted
with insert-or-ignore on natural keys, so a page fetched twice never duplicates a match.
Migration ``0004_crawl`` creates the same tables; ``0009_crawl_reasons`` adds the reason
codes (``reason_code``, see :mod:`copyseal.crawl.reasons`) and ``crawl_link_skips``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from copyseal.db.base import Base

__all__ = [
    "AppTarget",
    "CrawlImage",
    "CrawlJob",
    "CrawlLinkSkip",
    "CrawlMatch",
    "CrawlPage",
    "ScheduleRun",
    "TargetEvent",
]

_BigIntKey = BigInteger().with_variant(Integer(), "sqlite")


class CrawlJob(Base):
    """One crawl: what was asked (``spec``, JSON), its status and its last statistics.

    ``status`` is ``running``, ``finished``, ``stopped`` (closed early, resumable) or
    ``failed``. A ``running`` job whose ``pid`` is dead was killed: it can be resumed.
    ``robots_override`` records why robots.txt was not obeyed (null: it was obeyed).
    """

    __tablename__ = "crawl_jobs"

    job_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    target: Mapped[str] = mapped_column(Text)
    spider: Mapped[str] = mapped_column(String(64))
    render: Mapped[bool]
    status: Mapped[str] = mapped_column(String(16))
    spec: Mapped[str] = mapped_column(Text)
    robots_override: Mapped[str | None] = mapped_column(Text)
    stats: Mapped[str] = mapped_column(Text, default="{}")
    pid: Mapped[int | None]
    runs: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CrawlPage(Base):
    """A page (or sitemap) of a job's frontier.

    ``status``: ``queued`` (to fetch), ``done``, ``blocked`` (challenge, login wall,
    anti-bot), ``not-found`` (404 or soft-404), ``error`` (network, redirect loop, ...),
    ``skipped`` (refused: robots.txt, a private address). ``reason`` is the detail and
    ``reason_code`` its stable code (set for every page not done, and for a page done with
    a caveat; null in rows written before migration 0009).
    ``url_key`` is the SHA-256 of the canonical URL (the unique key within a job).
    """

    __tablename__ = "crawl_pages"
    __table_args__ = (
        UniqueConstraint("job_id", "url_key"),
        Index("ix_crawl_pages_job_status", "job_id", "status"),
    )

    id: Mapped[int] = mapped_column(_BigIntKey, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("crawl_jobs.job_id", ondelete="CASCADE")
    )
    url_key: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    depth: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(Text)
    reason_code: Mapped[str | None] = mapped_column(String(32))
    final_url: Mapped[str | None] = mapped_column(Text)
    images: Mapped[int] = mapped_column(Integer, default=0)
    fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CrawlImage(Base):
    """An image URL a job fetched once (deduplicated by URL), with what came of it.

    ``status`` is ``ok`` (matched, possibly against nothing) or ``skipped`` (``reason``
    says why: too large, not an image, robots.txt, refused address, decode error, ...;
    ``reason_code`` is its stable code).
    ``outcome`` is the matcher's result as JSON (a list of ``Match.to_json()``), kept so
    the same bytes found at another URL, or after a resume, are not matched again.
    """

    __tablename__ = "crawl_images"
    __table_args__ = (
        UniqueConstraint("job_id", "url_key"),
        Index("ix_crawl_images_job_sha256", "job_id", "sha256"),
    )

    id: Mapped[int] = mapped_column(_BigIntKey, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("crawl_jobs.job_id", ondelete="CASCADE")
    )
    url_key: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    format: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    reason_code: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(Text, default="[]")
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CrawlLinkSkip(Base):
    """A link a job found but never queued, once per URL, and why (``reason_code``:
    ``off-site``, ``max-depth`` or ``max-pages``); ``found_on`` is the page that showed it.

    A URL first passed over and later queued (found again at a smaller depth) keeps its
    row; reports leave out the URLs that are in the job's frontier.
    """

    __tablename__ = "crawl_link_skips"
    __table_args__ = (
        UniqueConstraint("job_id", "url_key"),
        Index("ix_crawl_link_skips_job_reason", "job_id", "reason_code"),
    )

    id: Mapped[int] = mapped_column(_BigIntKey, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("crawl_jobs.job_id", ondelete="CASCADE")
    )
    url_key: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    reason_code: Mapped[str] = mapped_column(String(32))
    found_on: Mapped[str | None] = mapped_column(Text)


class CrawlMatch(Base):
    """A registered work found in an image shown on a page.

    One row per (job, page, image, work); ``location`` (JSON) says where the image sat on
    the page (how it was shown, a CSS selector, a bounding box, the frame), ``detail`` is
    the matcher's explanation (``Match.to_json()``).
    """

    __tablename__ = "crawl_matches"
    __table_args__ = (UniqueConstraint("job_id", "page_key", "image_key", "work_id"),)

    id: Mapped[int] = mapped_column(_BigIntKey, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("crawl_jobs.job_id", ondelete="CASCADE")
    )
    page_key: Mapped[str] = mapped_column(String(64))
    image_key: Mapped[str] = mapped_column(String(64))
    page_url: Mapped[str] = mapped_column(Text)
    image_url: Mapped[str] = mapped_column(Text)
    work_id: Mapped[str] = mapped_column(String(32), ForeignKey("works.work_id"), index=True)
    score: Mapped[float] = mapped_column(Float)
    image_sha256: Mapped[str] = mapped_column(String(64))
    location: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text)
    found_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: The evidence bundle that sealed the page showing this match (None until sealed).
    bundle_id: Mapped[str | None] = mapped_column(String(40))
    #: The licence that covers this use (None: none does), and why none of the work's
    #: licences applies when it has some (migration 0011; see :mod:`copyseal.licences`).
    licence: Mapped[str | None] = mapped_column(String(32))
    licence_note: Mapped[str | None] = mapped_column(Text)


class ScheduleRun(Base):
    """One occurrence of a schedule (``crawl.schedules``): claimed once, by inserting it.

    The unique key (``schedule``, ``due_at``) is what makes a due run happen exactly once:
    a scheduler claims an occurrence by inserting its row, and a second scheduler (or the
    same one after a restart) that tries to insert it again gets nothing. ``status``:
    ``running`` (claimed; ``job_id`` is its crawl job, created in the same transaction),
    ``finished``, ``stopped``, ``failed`` (the job's final status), or ``missed`` (an
    older occurrence passed over by the catch-up policy, never run). ``owner`` is the
    scheduler running it (``host:pid:token``; null: released by a clean shutdown, to be
    resumed by the next scheduler); ``heartbeat_at`` shows it is alive across hosts.
    ``attempts`` counts the times the job's process died (it is resumed a few times).
    ``revisit_pages`` is the number of pages of earlier matches queued with the job.
    """

    __tablename__ = "schedule_runs"
    __table_args__ = (
        UniqueConstraint("schedule", "due_at"),
        Index("ix_schedule_runs_status", "status"),
    )

    id: Mapped[int] = mapped_column(_BigIntKey, primary_key=True, autoincrement=True)
    schedule: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    target: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    job_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("crawl_jobs.job_id", ondelete="SET NULL"), index=True
    )
    revisit_pages: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)


class AppTarget(Base):
    """A crawl target kept in the database (added in the review app or over its API).

    ``definition`` is the target as JSON, with the keys of ``crawl.targets`` entries
    (validated by :class:`copyseal.config.CrawlTarget` on every write and read). A target
    may carry its own schedule (``cron`` in UTC; null: crawled only on demand), run by
    ``copyseal scheduler`` under the target's name. ``version`` counts the changes.
    """

    __tablename__ = "crawl_targets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    definition: Mapped[str] = mapped_column(Text)
    cron: Mapped[str | None] = mapped_column(String(100))
    revisit_matches: Mapped[bool]
    schedule_enabled: Mapped[bool]
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(64))


class TargetEvent(Base):
    """One change to a database-held target: who did what, when, and the result.

    ``action`` is ``created``, ``updated`` or ``removed``; ``definition`` is the whole
    target after the change (before it, for a removal) as JSON, including its schedule.
    Rows are only ever inserted.
    """

    __tablename__ = "crawl_target_events"
    __table_args__ = (Index("ix_crawl_target_events_name", "name", "id"),)

    id: Mapped[int] = mapped_column(_BigIntKey, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    definition: Mapped[str] = mapped_column(Text)
