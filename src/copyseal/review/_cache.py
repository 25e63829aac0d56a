"""What the review queue remembers between page views: the sites, and counts per status.

At 10^5 matches, listing the distinct sites took ~270 ms and counting a filtered queue
per status ~340 ms (SQLite, ``benchmarks/review_load.py``), on every view. Both change
only when matches or decisions are added, so each is kept per database (in this
process) with the version of the data it was computed from:

- **sites** grow incrementally: a view reads only the URL prefixes of matches with an id
  above the highest one seen (an index range), plus ``count(*)`` to notice deletions or a
  database replaced under the same URL (then everything is read again);
- **counts** of a filter are reused while the data version — the number of matches, the
  highest match id and the highest decision id — is unchanged; a new match or decision
  changes it, so counts are never stale.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import Connection, func, select

from copyseal.db.schema.crawl import CrawlMatch
from copyseal.db.schema.review import Decision

__all__ = ["Version", "cached_counts", "data_version", "site_prefixes"]

#: Filters whose counts are kept per database (least recently used dropped first).
MAX_COUNTS: Final = 256

Version = tuple[int, int, int]


def data_version(conn: Connection) -> Version:
    """(number of matches, highest match id, highest decision id): changes with every
    added or deleted match and every decision (decisions are only ever added)."""
    # Three queries: alone, max(id) is one primary-key probe on both databases, but
    # SQLite answers count(*) and max(id) together with a scan of every row (~36 ms).
    count = conn.scalar(select(func.count()).select_from(CrawlMatch))
    top = conn.scalar(select(func.max(CrawlMatch.id)))
    decision = conn.scalar(select(func.max(Decision.id)))
    return int(count or 0), int(top or 0), int(decision or 0)


@dataclass
class _Sites:
    count: int = 0
    top: int = 0
    prefixes: set[str] = field(default_factory=set)


@dataclass
class _Database:
    lock: threading.Lock = field(default_factory=threading.Lock)
    sites: _Sites = field(default_factory=_Sites)
    counts: OrderedDict[Hashable, tuple[Version, dict[str, int]]] = field(
        default_factory=OrderedDict
    )


_DATABASES: dict[str, _Database] = {}
_DATABASES_LOCK = threading.Lock()


def _database(conn: Connection) -> _Database:
    key = conn.engine.url.render_as_string(hide_password=False)
    with _DATABASES_LOCK:
        return _DATABASES.setdefault(key, _Database())


def site_prefixes(conn: Connection, version: Version, prefix_column: object) -> set[str]:
    """Every distinct URL prefix (``prefix_column``: the ``url_prefix`` expression) of the
    matches, read incrementally (a copy: the caller may keep it)."""
    db = _database(conn)
    count, top, _ = version
    with db.lock:
        cached = db.sites
        added = 0
        fresh: set[str] = set()
        if top >= cached.top:
            query = select(func.count()).select_from(CrawlMatch).where(CrawlMatch.id > cached.top)
            added = int(conn.scalar(query) or 0)
        if top < cached.top or cached.count + added != count:
            cached = _Sites()  # rows were deleted, or another database under this URL
            added = count
        if added:
            newer = select(prefix_column).where(CrawlMatch.id > cached.top).distinct()  # type: ignore[call-overload]
            fresh = set(conn.scalars(newer))
        db.sites = _Sites(count=count, top=top, prefixes=cached.prefixes | fresh)
        return set(db.sites.prefixes)


def cached_counts(
    conn: Connection, key: Hashable, version: Version, compute: Callable[[], dict[str, int]]
) -> dict[str, int]:
    """The counts of the filter ``key``, computed by ``compute`` unless known for
    ``version`` (a copy: the caller may change it)."""
    db = _database(conn)
    with db.lock:
        hit = db.counts.get(key)
        if hit is not None and hit[0] == version:
            db.counts.move_to_end(key)
            return dict(hit[1])
    counts = compute()
    with db.lock:
        db.counts[key] = (version, dict(counts))
        db.counts.move_to_end(key)
        while len(db.counts) > MAX_COUNTS:
            db.counts.popitem(last=False)
    return counts
