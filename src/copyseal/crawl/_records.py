"""A crawl's image, match and page rows: built once, written in batches.

:class:`RecordBatch` keeps the rows of stored items in the order they were stored and
writes them all in one transaction (:func:`write_records`): image rows, then match rows,
then page status updates, each kind as one ``executemany``. Rows are idempotent
(insert-or-ignore on their natural keys; a page update sets the same values again), so a
batch that failed is written again whole by the next flush.

Why a batch loses nothing a resumed crawl would not redo: a page is marked done only by
its own update row, which comes after the rows of its images in the batch and is
committed with them or not at all. A crash before a flush leaves those pages ``queued``
(their children were queued before, by :meth:`~copyseal.crawl._store.JobStore.add_pages`,
which writes at once), so a resumed crawl fetches them again and stores the same rows.
An image row another page refers to by URL later is earlier in the same batch, or in an
earlier one. Evidence (bundles, the ledger) is never written here.

Measured on a 300-page local site (3 images a page): one transaction per image and per
page took 2-3 ms of the crawl's event-loop thread per page; one per 32 pages ~0.3 ms.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.engine import Connection, Engine

from copyseal.db.schema.crawl import CrawlImage, CrawlMatch, CrawlPage
from copyseal.db.sql import insert_or_ignore

__all__ = ["Classifier", "RecordBatch", "image_rows", "page_row", "write_records"]

#: ``(work_id, page_url, at) -> (licence id or None, note or None)``: a match's licence.
Classifier = Callable[[str, str, datetime], tuple[str | None, str | None]]

_NO_OUTCOME = "[]"  # json.dumps([]): most images match nothing

#: One page's status, by its key (an ``executemany`` of this statement).
_PAGE_UPDATE = (
    update(CrawlPage)
    .where(CrawlPage.job_id == bindparam("b_job_id"), CrawlPage.url_key == bindparam("b_url_key"))
    .values(
        status=bindparam("b_status"),
        http_status=bindparam("b_http_status"),
        reason=bindparam("b_reason"),
        reason_code=bindparam("b_reason_code"),
        final_url=bindparam("b_final_url"),
        images=bindparam("b_images"),
        fetched_at=bindparam("b_fetched_at"),
    )
)


def image_rows(
    job_id: str,
    *,
    image_key: str,
    page_key: Callable[[], str],
    page_url: str,
    image_url: str,
    sha256: str | None,
    size: int | None,
    fmt: str | None,
    status: str,
    reason: str | None,
    reason_code: str | None,
    outcome: Sequence[dict[str, Any]],
    location: dict[str, Any],
    classify: Classifier | None,
    now: datetime,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``crawl_images`` row of an image and its ``crawl_matches`` rows (one per work
    found; none without an outcome or a hash). ``page_key`` is called only for matches."""
    image = {
        "job_id": job_id,
        "url_key": image_key,
        "url": image_url,
        "sha256": sha256,
        "size": size,
        "format": fmt,
        "status": status,
        "reason": reason,
        "reason_code": reason_code,
        "outcome": json.dumps(outcome, sort_keys=True) if outcome else _NO_OUTCOME,
        "fetched_at": now,
    }
    if not outcome or sha256 is None:
        return image, []
    key = page_key()
    where = json.dumps(location, sort_keys=True)
    matches = []
    for m in outcome:
        licence, note = (None, None) if classify is None else classify(m["work_id"], page_url, now)
        matches.append(
            {
                "job_id": job_id,
                "page_key": key,
                "image_key": image_key,
                "page_url": page_url,
                "image_url": image_url,
                "work_id": m["work_id"],
                "score": float(m["score"]),
                "image_sha256": sha256,
                "location": where,
                "detail": json.dumps(m, sort_keys=True),
                "found_at": now,
                "licence": licence,
                "licence_note": note,
            }
        )
    return image, matches


def page_row(
    job_id: str,
    url_key: str,
    *,
    status: str,
    http_status: int | None,
    reason: str | None,
    reason_code: str | None,
    final_url: str | None,
    images: int,
    now: datetime,
) -> dict[str, Any]:
    """The parameters of one page's status update (:data:`_PAGE_UPDATE`)."""
    return {
        "b_job_id": job_id,
        "b_url_key": url_key,
        "b_status": status,
        "b_http_status": http_status,
        "b_reason": reason,
        "b_reason_code": reason_code,
        "b_final_url": final_url,
        "b_images": images,
        "b_fetched_at": now,
    }


def write_records(
    conn: Connection,
    *,
    images: Sequence[dict[str, Any]] = (),
    matches: Sequence[dict[str, Any]] = (),
    pages: Sequence[dict[str, Any]] = (),
) -> int:
    """Write image rows, match rows and page updates, in that order, in ``conn``'s
    transaction; returns how many match rows are new."""
    insert_or_ignore(conn, CrawlImage, images, index_elements=["job_id", "url_key"])
    new = insert_or_ignore(
        conn,
        CrawlMatch,
        matches,
        index_elements=["job_id", "page_key", "image_key", "work_id"],
        returning=[CrawlMatch.id],
    )
    if pages:
        conn.execute(_PAGE_UPDATE, list(pages))
    return len(new)


class RecordBatch:
    """Rows waiting to be written, in the order they were stored.

    Args:
        engine: The job's database.
        max_pages: Write once this many page updates wait.
        max_delay: Write once the oldest waiting row is this old (seconds).
    """

    def __init__(self, *, engine: Engine, max_pages: int = 32, max_delay: float = 1.0) -> None:
        self.engine = engine
        self.max_pages = max_pages
        self.max_delay = max_delay
        self._images: list[dict[str, Any]] = []
        self._matches: list[dict[str, Any]] = []
        self._pages: list[dict[str, Any]] = []
        self._since: float | None = None
        self.new_matches = 0

    def __len__(self) -> int:
        return len(self._images) + len(self._matches) + len(self._pages)

    def _touch(self) -> None:
        if self._since is None:
            self._since = time.monotonic()

    def add_image(self, image: dict[str, Any], matches: Sequence[dict[str, Any]]) -> None:
        self._touch()
        self._images.append(image)
        self._matches.extend(matches)

    def add_page(self, page: dict[str, Any]) -> None:
        self._touch()
        self._pages.append(page)

    def due(self) -> bool:
        """True when the waiting rows should be written (size or age)."""
        if self._since is None:
            return False
        return (
            len(self._pages) >= self.max_pages or time.monotonic() - self._since >= self.max_delay
        )

    def flush(self) -> int:
        """Write every waiting row in one transaction; returns the new match rows.

        On an error nothing is written and the rows stay for the next flush.
        """
        if self._since is None:
            return 0
        with self.engine.begin() as conn:
            new = write_records(conn, images=self._images, matches=self._matches, pages=self._pages)
        self._images, self._matches, self._pages = [], [], []
        self._since = None
        self.new_matches += new
        return new
