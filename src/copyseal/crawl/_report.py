"""Reading why a job's pages, images and links were not crawled, for its report.

Counts come from the reason codes stored with each row (:mod:`copyseal.crawl.reasons`):
pages by status and code (pages not done, and pages done with a caveat), images likewise,
and links found but never queued (``crawl_link_skips``, less those queued later). Each
count comes with the first few URLs, in the order the crawl met them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.engine import Connection, Engine

from copyseal.crawl.reasons import OTHER, explain
from copyseal.db.schema.crawl import CrawlImage, CrawlLinkSkip, CrawlPage

__all__ = ["EXAMPLES", "CrawlReasons", "crawl_reasons"]

#: URLs kept as examples per reason.
EXAMPLES = 3

#: ``{status: {code: count}}`` and ``{status: {code: [url, ...]}}``.
_Counts = dict[str, dict[str, int]]
_Examples = dict[str, dict[str, list[str]]]


@dataclass(frozen=True, kw_only=True)
class CrawlReasons:
    """Why a job's pages and images are not done, and which links it did not follow.

    Attributes:
        pages: ``{status: {reason code: count}}`` of pages (not sitemaps).
        page_examples: The first :data:`EXAMPLES` URLs of each of those.
        images: ``{status: {reason code: count}}`` of images.
        image_examples: The first URLs of each.
        links: ``{reason code: count}`` of links found but never queued.
        link_examples: The first URLs of each.
    """

    pages: _Counts = field(default_factory=dict)
    page_examples: _Examples = field(default_factory=dict)
    images: _Counts = field(default_factory=dict)
    image_examples: _Examples = field(default_factory=dict)
    links: dict[str, int] = field(default_factory=dict)
    link_examples: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The reason fields of ``copyseal crawl --json``."""
        return {
            "page_reasons": self.pages,
            "page_reason_examples": self.page_examples,
            "image_reasons": self.images,
            "image_reason_examples": self.image_examples,
            "links_not_followed": self.links,
            "links_not_followed_examples": self.link_examples,
        }

    def lines(self) -> list[str]:
        """One sentence per reason, for people (see :func:`copyseal.crawl.reasons.explain`):
        pages, then images, then links; the most frequent reason first within each."""
        out: list[str] = []
        for noun, counts, examples in (
            ("page", self.pages, self.page_examples),
            ("image", self.images, self.image_examples),
        ):
            for status, by_code in sorted(counts.items()):
                for code, n in sorted(by_code.items(), key=lambda kv: (-kv[1], kv[0])):
                    first = examples.get(status, {}).get(code, [])
                    out.append(
                        explain(
                            count=n,
                            noun=noun,
                            status=status,
                            code=code,
                            example=first[0] if first else None,
                        )
                    )
        for code, n in sorted(self.links.items(), key=lambda kv: (-kv[1], kv[0])):
            first = self.link_examples.get(code, [])
            out.append(
                explain(
                    count=n,
                    noun="link",
                    status="not followed",
                    code=code,
                    example=first[0] if first else None,
                )
            )
        return out


def _by_status(
    conn: Connection, table: Any, where: ColumnElement[bool]
) -> tuple[_Counts, _Examples]:
    code = func.coalesce(table.reason_code, OTHER)
    counts: _Counts = {}
    for status, reason, n in conn.execute(
        select(table.status, code, func.count()).where(where).group_by(table.status, code)
    ):
        counts.setdefault(status, {})[reason] = int(n)
    ranked = (
        select(
            table.status.label("status"),
            code.label("code"),
            table.url.label("url"),
            table.id.label("id"),
            func.row_number()
            .over(partition_by=(table.status, code), order_by=table.id)
            .label("rank"),
        )
        .where(where)
        .subquery()
    )
    examples: _Examples = {}
    for status, reason, url in conn.execute(
        select(ranked.c.status, ranked.c.code, ranked.c.url)
        .where(ranked.c.rank <= EXAMPLES)
        .order_by(ranked.c.id)
    ):
        examples.setdefault(status, {}).setdefault(reason, []).append(url)
    return counts, examples


def _links(conn: Connection, job_id: str) -> tuple[dict[str, int], dict[str, list[str]]]:
    queued = select(CrawlPage.url_key).where(CrawlPage.job_id == job_id)
    where = and_(CrawlLinkSkip.job_id == job_id, CrawlLinkSkip.url_key.not_in(queued))
    counts = {
        str(code): int(n)
        for code, n in conn.execute(
            select(CrawlLinkSkip.reason_code, func.count())
            .where(where)
            .group_by(CrawlLinkSkip.reason_code)
        )
    }
    ranked = (
        select(
            CrawlLinkSkip.reason_code.label("code"),
            CrawlLinkSkip.url.label("url"),
            CrawlLinkSkip.id.label("id"),
            func.row_number()
            .over(partition_by=CrawlLinkSkip.reason_code, order_by=CrawlLinkSkip.id)
            .label("rank"),
        )
        .where(where)
        .subquery()
    )
    examples: dict[str, list[str]] = {}
    for code, url in conn.execute(
        select(ranked.c.code, ranked.c.url).where(ranked.c.rank <= EXAMPLES).order_by(ranked.c.id)
    ):
        examples.setdefault(code, []).append(url)
    return counts, examples


def crawl_reasons(engine: Engine, job_id: str) -> CrawlReasons:
    """Why ``job_id``'s pages and images are not done, and the links it did not follow."""

    def noted(table: Any, done: str) -> ColumnElement[bool]:
        # Rows not done (queued ones are still to do), and done rows with a caveat.
        return and_(
            table.job_id == job_id,
            table.status != "queued",
            or_(table.status != done, table.reason_code.is_not(None)),
        )

    with engine.connect() as conn:
        pages, page_examples = _by_status(
            conn, CrawlPage, and_(noted(CrawlPage, "done"), CrawlPage.kind == "page")
        )
        images, image_examples = _by_status(conn, CrawlImage, noted(CrawlImage, "ok"))
        links, link_examples = _links(conn, job_id)
    return CrawlReasons(
        pages=pages,
        page_examples=page_examples,
        images=images,
        image_examples=image_examples,
        links=links,
        link_examples=link_examples,
    )
