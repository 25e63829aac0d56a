"""The review queue: matches with their review status, filtered, sorted and counted.

A match's status is its newest decision (``new`` when nobody decided yet). Filters are by
status, site (the page's host), work, score range and the date the match was found;
the queue is sorted newest first (``newest``), oldest first, or best score first
(``strongest``), and the counts per status honour every filter except the status one.
All of it runs in the database (:mod:`copyseal.review._sql`), one page of rows at a time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Row, select
from sqlalchemy.orm import Session

from copyseal.bundle.anchored import receipt_checkpoint
from copyseal.db.schema.bundle import EvidenceBundle
from copyseal.db.schema.crawl import CrawlMatch
from copyseal.db.schema.review import CaseMatch
from copyseal.errors import CopysealError
from copyseal.licences import list_licences
from copyseal.review._cache import cached_counts, data_version
from copyseal.review._sql import (
    conditions,
    host_of,
    latest_decisions,
    page_ids,
    rows_of,
    sites,
    status_counts,
)
from copyseal.review.decisions import STATUSES, DecisionRecord, history
from copyseal.review.errors import NotFound, ReviewError
from copyseal.review.evidence import AnchorState, anchor_states, earliest_proven, overall_state
from copyseal.times import iso, utc
from copyseal.workspace import Workspace

__all__ = [
    "SORTS",
    "MatchItem",
    "QueueFilter",
    "QueueItem",
    "QueuePage",
    "all_items",
    "match_item",
    "next_match",
    "queue",
    "statuses",
]

SORTS: Final = ("newest", "oldest", "strongest")
MAX_LIMIT: Final = 500


@dataclass(frozen=True, kw_only=True)
class QueueFilter:
    """What to show: every field is optional (None: no filter)."""

    status: str | None = None
    site: str | None = None
    work_id: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    found_from: date | None = None
    found_to: date | None = None
    job_id: str | None = None
    sort: str = "newest"
    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise ReviewError(f"unknown status {self.status!r}; one of {', '.join(STATUSES)}")
        if self.sort not in SORTS:
            raise ReviewError(f"unknown sort {self.sort!r}; one of {', '.join(SORTS)}")
        if not 0 < self.limit <= MAX_LIMIT or self.offset < 0:
            raise ReviewError(f"limit must be 1-{MAX_LIMIT} and offset not negative")

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "site": self.site,
            "work_id": self.work_id,
            "min_score": self.min_score,
            "max_score": self.max_score,
            "found_from": self.found_from.isoformat() if self.found_from else None,
            "found_to": self.found_to.isoformat() if self.found_to else None,
            "job_id": self.job_id,
            "sort": self.sort,
            "limit": self.limit,
            "offset": self.offset,
        }


@dataclass(frozen=True, kw_only=True)
class QueueItem:
    """A match with its work, bundle and review status."""

    match_id: int
    job_id: str
    page_url: str
    image_url: str
    site: str
    work_id: str
    work_title: str | None
    work_owner: str | None
    score: float
    method: str | None
    found_at: datetime
    bundle_id: str | None
    status: str
    decided_at: datetime | None
    cases: tuple[str, ...] = ()
    #: The licence that covers the use, or why the work's licences do not
    #: (:mod:`copyseal.licences`).
    licence: str | None = None
    licence_note: str | None = None
    #: Kept, altered or removed rights fields (:func:`copyseal.match.rights.compare`).
    rights_metadata: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "match_id": self.match_id,
            "job_id": self.job_id,
            "page_url": self.page_url,
            "image_url": self.image_url,
            "site": self.site,
            "work_id": self.work_id,
            "work_title": self.work_title,
            "work_owner": self.work_owner,
            "score": round(self.score, 4),
            "method": self.method,
            "found_at": iso(self.found_at),
            "bundle": self.bundle_id,
            "status": self.status,
            "decided_at": iso(self.decided_at),
            "cases": list(self.cases),
            "licence": self.licence,
            "licence_note": self.licence_note,
            "rights_metadata": self.rights_metadata,
        }


@dataclass(frozen=True, kw_only=True)
class QueuePage:
    """One page of the queue, the total after filtering, and counts per status."""

    items: tuple[QueueItem, ...]
    total: int
    counts: dict[str, int]
    filter: QueueFilter
    sites: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "items": [i.to_json() for i in self.items],
            "total": self.total,
            "counts": self.counts,
            "filter": self.filter.to_json(),
            "sites": list(self.sites),
        }


def _items(conn: Connection, rows: Sequence[Row[Any]]) -> list[QueueItem]:
    """Queue items of the rows (:func:`~copyseal.review._sql.rows_of`), with the cases
    of those matches only."""
    cases: dict[int, list[str]] = {}
    ids = [r.id for r in rows]
    if ids:
        query = select(CaseMatch.case_id, CaseMatch.match_id).order_by(CaseMatch.case_id)
        for case_id, match_id in conn.execute(query.where(CaseMatch.match_id.in_(ids))):
            cases.setdefault(match_id, []).append(case_id)
    items = []
    for r in rows:
        detail = json.loads(r.detail)
        items.append(
            QueueItem(
                match_id=r.id,
                job_id=r.job_id,
                page_url=r.page_url,
                image_url=r.image_url,
                site=host_of(r.page_url),
                work_id=r.work_id,
                work_title=r.title,
                work_owner=r.owner,
                score=float(r.score),
                method=detail.get("method") if isinstance(detail, dict) else None,
                found_at=utc(r.found_at),
                bundle_id=r.bundle_id,
                status=r.decision or "new",
                decided_at=None if r.decided_at is None else utc(r.decided_at),
                cases=tuple(cases.get(r.id, ())),
                licence=r.licence,
                licence_note=r.licence_note,
                rights_metadata=detail.get("rights_metadata") if isinstance(detail, dict) else None,
            )
        )
    return items


def _load(ws: Workspace, match_ids: list[int] | None = None) -> list[QueueItem]:
    query = rows_of(latest_decisions())
    if match_ids is not None:
        query = query.where(CrawlMatch.id.in_(match_ids))
    with ws.engine.connect() as conn:
        return _items(conn, conn.execute(query).all())


def queue(ws: Workspace, f: QueueFilter | None = None) -> QueuePage:
    """The matches the filter selects, sorted, one page of them, with counts per status.

    Filtering, sorting, counting and paging run in the database: a page view reads the
    new URL prefixes (for the sites), the counts (unless known for the current data:
    :mod:`copyseal.review._cache`) and one page of rows, never every match.
    """
    f = f or QueueFilter()
    decided = latest_decisions()
    with ws.engine.connect() as conn:
        version = data_version(conn)
        by_host = sites(conn, version)
        where = conditions(f, by_host)
        key = replace(f, status=None, sort="newest", limit=1, offset=0)
        counts = cached_counts(
            conn, key, version, lambda: status_counts(conn, decided, where, total=version[0])
        )
        total = counts[f.status] if f.status is not None else sum(counts.values())
        rows: Sequence[Row[Any]] = ()
        if f.offset < total:
            # The page's ids first (sorting bare matches), then their rows: joining every
            # match with its work and decision only to sort them costs more than the sort.
            ids = page_ids(conn, decided, where, f)
            found = conn.execute(rows_of(decided).where(CrawlMatch.id.in_(ids))).all()
            by_id = {r.id: r for r in found}
            rows = [by_id[i] for i in ids if i in by_id]
        items = _items(conn, rows)
    return QueuePage(
        items=tuple(items), total=total, counts=counts, filter=f, sites=tuple(sorted(by_host))
    )


def next_match(ws: Workspace, f: QueueFilter, *, after: int) -> int | None:
    """The first match of the queue ``f`` that is not ``after`` (the match page's "next"),
    without counting the queue or reading its rows."""
    decided = latest_decisions()
    with ws.engine.connect() as conn:
        where = conditions(f, sites(conn)) if f.site else conditions(f, {})
        ids = page_ids(conn, decided, where, replace(f, limit=2, offset=0))
    return next((i for i in ids if i != after), None)


def all_items(ws: Workspace) -> list[QueueItem]:
    """Every match as a queue item, unsorted (reads them all: for scripts, not pages)."""
    return _load(ws)


def statuses(ws: Workspace, match_ids: list[int]) -> dict[int, QueueItem]:
    """The queue items of these matches (missing ids are left out)."""
    return {i.match_id: i for i in _load(ws, match_ids)}


@dataclass(frozen=True, kw_only=True)
class MatchItem:
    """Everything the match page shows: the queue item, the matcher's report, the bundle's
    files for this match (manifest paths), and the decision history."""

    item: QueueItem
    detail: dict[str, Any]
    location: dict[str, Any]
    image_sha256: str
    bundle_path: Path | None
    bundle_leaf_hash: str | None
    bundle_ledger_index: int | None
    captured_at: datetime | None
    #: Manifest paths: ``work``, ``found``, ``overlay``, ``closeup``, ``screenshot``,
    #: ``viewport`` (only the ones the bundle has).
    files: dict[str, str]
    history: tuple[DecisionRecord, ...]
    next_match_id: int | None = None
    #: The bundle's state with each configured anchor (empty without a bundle).
    anchors: tuple[AnchorState, ...] = ()
    #: The work's licences (:meth:`copyseal.licences.LicenceRecord.to_json`).
    licences: tuple[dict[str, Any], ...] = ()
    #: Why the bundle row's path was refused (outside the evidence store), if it was.
    bundle_refused: str | None = None

    def to_json(self) -> dict[str, Any]:
        first = earliest_proven(self.anchors)
        return {
            **self.item.to_json(),
            "detail": self.detail,
            "location": self.location,
            "image_sha256": self.image_sha256,
            "bundle_leaf_hash": self.bundle_leaf_hash,
            "bundle_ledger_index": self.bundle_ledger_index,
            "captured_at": iso(self.captured_at),
            "files": self.files,
            "history": [d.to_json() for d in self.history],
            "next_match_id": self.next_match_id,
            "anchors": [a.to_json() for a in self.anchors],
            "licences": list(self.licences),
            "anchor_state": overall_state(self.anchors) if self.bundle_path else None,
            "proven_at": None if first is None else iso(first.anchored_at),
            "proven_by": None if first is None else f"{first.kind}:{first.name}",
        }


def _bundle_files(path: Path, image_url: str, work_id: str) -> dict[str, str]:
    try:
        manifest = json.loads((path / "manifest.json").read_bytes())
    except (OSError, ValueError):
        return {}
    listed = {f.get("path") for f in manifest.get("files", []) if isinstance(f, dict)}
    files: dict[str, str] = {}
    for shot, key in (("full.png", "screenshot"), ("viewport.png", "viewport")):
        if f"data/capture/screenshots/{shot}" in listed:
            files[key] = f"data/capture/screenshots/{shot}"
    entries = (manifest.get("match") or {}).get("matches") or []
    for n, entry in enumerate(entries, start=1):
        if (
            entry.get("image_url") != image_url
            or (entry.get("match") or {}).get("work_id") != work_id
        ):
            continue
        candidates = {
            "work": (entry.get("work") or {}).get("original"),
            "found": entry.get("captured_image"),
            "overlay": entry.get("overlay"),
            "closeup": f"data/capture/closeups/{n:02d}.png",
        }
        files.update({k: v for k, v in candidates.items() if isinstance(v, str) and v in listed})
        break
    return files


def match_item(ws: Workspace, match_id: int, *, f: QueueFilter | None = None) -> MatchItem:
    """The match page's data for one match (``f``: the queue it was opened from, to find
    the next match to review).

    Raises:
        NotFound: no such match.
    """
    items = statuses(ws, [match_id])
    if match_id not in items:
        raise NotFound(f"no match {match_id}")
    with Session(ws.engine) as s:
        row = s.get(CrawlMatch, match_id)
        assert row is not None
        bundle = s.get(EvidenceBundle, row.bundle_id) if row.bundle_id else None
        detail, location, image_sha = (
            json.loads(row.detail),
            json.loads(row.location),
            row.image_sha256,
        )
    path: Path | None = None
    refused: str | None = None
    if bundle is not None:
        try:
            path = ws.store.locate(bundle.path)
        except CopysealError as e:  # a row naming a folder outside the evidence store
            refused = str(e)
    files = _bundle_files(path, row.image_url, row.work_id) if path is not None else {}
    # The first two of the queue hold the first match that is not this one.
    anchors: tuple[AnchorState, ...] = ()
    if path is not None:
        try:
            anchors = anchor_states(ws, receipt_checkpoint(path).size)
        except CopysealError:
            anchors = ()  # an unreadable receipt: the live check says so
    following = next_match(ws, f or QueueFilter(status="new"), after=match_id)
    return MatchItem(
        item=items[match_id],
        detail=detail,
        location=location,
        image_sha256=image_sha,
        bundle_path=path,
        bundle_leaf_hash=bundle.leaf_hash if bundle else None,
        bundle_ledger_index=bundle.ledger_index if bundle else None,
        captured_at=utc(bundle.captured_at) if bundle else None,
        files=files,
        history=tuple(history(ws, match_id)),
        next_match_id=following,
        anchors=anchors,
        licences=tuple(r.to_json() for r in list_licences(ws, work_id=row.work_id)),
        bundle_refused=refused,
    )
