"""SQL building blocks of the review queue: a match's site and its review status.

The queue filters, sorts, counts and pages in the database, so a queue of 100,000 matches
costs one page of rows per view. Two values are derived rather than stored:

- the **site** of a match, the host of its page URL as :func:`~copyseal.review.sites.
  domain_of` computes it (``urllib.parse.urlsplit(url).hostname``). The database does not
  parse URLs; it cuts each one after its authority (:class:`url_prefix`: the scheme and
  authority of an absolute URL, which fix its host), the few distinct prefixes are
  mapped to hosts in Python (:func:`sites`), and a site filter is "the prefix is one of
  this host's prefixes". So SQL and Python agree on the site of every URL (tabs and
  line breaks aside), on both databases;
- the **status** of a match, its newest decision (highest decision id; ``new`` when the
  outer join of :func:`source` finds none), kept in ``review_status`` by a trigger.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Connection, Select, String, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement

from copyseal.db.models import Work
from copyseal.db.schema.crawl import CrawlMatch
from copyseal.db.schema.review import ReviewStatus
from copyseal.review._cache import Version, data_version, site_prefixes
from copyseal.review.sites import domain_of

if TYPE_CHECKING:
    from copyseal.review.queue import QueueFilter

__all__ = [
    "conditions",
    "host_of",
    "latest_decisions",
    "ordering",
    "page_ids",
    "prefix_of",
    "rows_of",
    "sites",
    "source",
    "status_counts",
    "status_is",
    "url_prefix",
]


class url_prefix(FunctionElement[str]):
    """``url_prefix(url)``: ``url`` cut before the first ``/`` that follows its first
    ``//`` (all of it when none follows; '' when it has no ``//``), i.e.
    ``scheme://user@host:port`` of an absolute URL; in Python :func:`prefix_of`.

    ``domain_of(url_prefix(url)) == domain_of(url)`` for every string without tabs or
    line breaks (urlsplit deletes those, which could turn ``/\t/`` into ``//``): a URL
    has a host only when ``//`` follows its scheme (which has no ``/``), so that ``//``
    is the first one, and the authority after it ends at the next ``/`` at the latest; a
    prefix that keeps the first ``//`` keeps the scheme decision too.
    """

    type = String()
    inherit_cache = True
    name = "url_prefix"


@compiles(url_prefix)
def _url_prefix(element: url_prefix, compiler: SQLCompiler, **kw: Any) -> str:
    # instr/substr (SQLite) and strpos/substr (PostgreSQL) count characters, 1-based.
    url = compiler.process(element.clauses, **kw)
    find = "strpos" if compiler.dialect.name == "postgresql" else "instr"
    p = f"{find}({url}, '//')"
    q = f"{find}(substr({url}, {p} + 2), '/')"
    cut = f"substr({url}, 1, {p} + {q})"
    return f"(CASE WHEN {p} = 0 THEN '' WHEN {q} = 0 THEN {url} ELSE {cut} END)"


def prefix_of(url: str) -> str:
    """What :class:`url_prefix` computes in SQL."""
    p = url.find("//")
    if p < 0:
        return ""
    q = url.find("/", p + 2)
    return url if q < 0 else url[:q]


@functools.lru_cache(maxsize=65536)  # pure; a queue view maps every site's prefix
def host_of(prefix: str) -> str:
    """The site of a URL (or of its :class:`url_prefix`); '' when it has no host, or a
    malformed one (an unbalanced IPv6 bracket), which must not break the whole queue."""
    try:
        return domain_of(prefix)
    except ValueError:
        return ""


def sites(conn: Connection, version: Version | None = None) -> dict[str, list[str]]:
    """Every site of the queue, with the URL prefixes (:class:`url_prefix`) that have it
    (read incrementally: :func:`copyseal.review._cache.site_prefixes`; ``version``: the
    :func:`~copyseal.review._cache.data_version` if the caller has it)."""
    version = version or data_version(conn)
    by_host: dict[str, list[str]] = {}
    for prefix in sorted(site_prefixes(conn, version, url_prefix(CrawlMatch.page_url))):
        by_host.setdefault(host_of(prefix), []).append(prefix)
    return by_host


def latest_decisions() -> Any:
    """The matches' newest decisions as ``decided``, for :func:`source` to join
    (``decided.c.decision``, ``decided.c.decided_at``): the ``review_status`` table, which
    a trigger keeps (:class:`~copyseal.db.schema.review.ReviewStatus`)."""
    return ReviewStatus.__table__.alias("decided")


def source(decided: Any) -> Any:
    """Matches with (outer) their newest decision: one primary-key probe per match.

    Finding the newest among all decisions instead (NOT EXISTS a later one) cost two
    index probes and an anti-join per match: 350 ms to count a queue of 10^5 on SQLite
    against 60 ms (``benchmarks/review_load.py``).
    """
    return CrawlMatch.__table__.outerjoin(decided, decided.c.match_id == CrawlMatch.id)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def conditions(f: QueueFilter, by_host: dict[str, list[str]]) -> list[ColumnElement[bool]]:
    """Every filter but the status one, as SQL (``by_host``: :func:`sites`). ``found_at``
    is stored in UTC, so a date range is a half-open range of instants."""
    where: list[ColumnElement[bool]] = []
    if f.site:
        prefixes = by_host.get(f.site.lower(), [])
        where.append(url_prefix(CrawlMatch.page_url).in_(prefixes))
    if f.work_id:
        where.append(CrawlMatch.work_id == f.work_id)
    if f.job_id:
        where.append(CrawlMatch.job_id == f.job_id)
    if f.min_score is not None:
        where.append(CrawlMatch.score >= f.min_score)
    if f.max_score is not None:
        where.append(CrawlMatch.score <= f.max_score)
    if f.found_from:
        where.append(CrawlMatch.found_at >= _midnight(f.found_from))
    if f.found_to and f.found_to < date.max:
        where.append(CrawlMatch.found_at < _midnight(f.found_to + timedelta(days=1)))
    return where


def status_is(decided: Any, status: str) -> ColumnElement[bool]:
    """The status filter: ``new`` is "no decision" (tested on the join key, which lets
    PostgreSQL plan an anti-join walking the order's index instead of joining all)."""
    if status == "new":
        key: ColumnElement[int] = decided.c.match_id
        return key.is_(None)
    column: ColumnElement[str] = decided.c.decision
    return column == status


def ordering(sort: str) -> tuple[ColumnElement[Any], ...]:
    """``newest`` and ``oldest`` by the time found, ``strongest`` by score then newest;
    ties by match id, so paging is stable."""
    if sort == "strongest":
        return (CrawlMatch.score.desc(), CrawlMatch.found_at.desc(), CrawlMatch.id.desc())
    if sort == "oldest":
        return (CrawlMatch.found_at.asc(), CrawlMatch.id.asc())
    return (CrawlMatch.found_at.desc(), CrawlMatch.id.desc())


def rows_of(decided: Any) -> Select[*tuple[Any, ...]]:
    """What a queue item is made of: :func:`source` and the work."""
    return select(
        CrawlMatch.id,
        CrawlMatch.job_id,
        CrawlMatch.page_url,
        CrawlMatch.image_url,
        CrawlMatch.work_id,
        CrawlMatch.score,
        CrawlMatch.detail,
        CrawlMatch.found_at,
        CrawlMatch.bundle_id,
        CrawlMatch.licence,
        CrawlMatch.licence_note,
        Work.title,
        Work.owner,
        decided.c.decision,
        decided.c.decided_at,
    ).select_from(source(decided).outerjoin(Work.__table__, Work.work_id == CrawlMatch.work_id))


def status_counts(
    conn: Connection, decided: Any, where: list[ColumnElement[bool]], *, total: int | None = None
) -> dict[str, int]:
    """Matches per status (:data:`~copyseal.review.decisions.STATUSES`) under ``where``
    (every filter but the status one); ``total``: the number of matches, if known."""
    from copyseal.review.decisions import STATUSES

    counts = dict.fromkeys(STATUSES, 0)
    if not where:
        # No filter: the decided ones per status from review_status's index, the rest are
        # new (no join of every match with its status: ~10 ms instead of ~340 at 10^5).
        status = ReviewStatus.__table__
        per_status = select(status.c.decision, func.count()).group_by(status.c.decision)
        for decision, n in conn.execute(per_status):
            counts[decision] += int(n)
        if total is None:
            total = int(conn.scalar(select(func.count()).select_from(CrawlMatch)) or 0)
        counts["new"] = total - sum(counts.values())
        return counts
    per_decision = (
        select(decided.c.decision, func.count())
        .select_from(source(decided))
        .where(*where)
        .group_by(decided.c.decision)
    )
    for decision, n in conn.execute(per_decision):
        counts[decision or "new"] += int(n)
    return counts


def page_ids(
    conn: Connection, decided: Any, where: list[ColumnElement[bool]], f: QueueFilter
) -> list[int]:
    """The ids of the filter's page, sorted: from the order's index (``0015``), joining
    the status only when filtering by it."""
    page = select(CrawlMatch.id).where(*where)
    if f.status is not None:
        page = page.select_from(source(decided)).where(status_is(decided, f.status))
    page = page.order_by(*ordering(f.sort)).limit(f.limit).offset(f.offset)
    return list(conn.scalars(page))
