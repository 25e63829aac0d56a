"""The dashboard's numbers: works, crawls, pages and images seen, matches by status, top
infringing domains, and evidence bundles with their verification state."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from copyseal.bundle.check import BundleVerification, Check
from copyseal.crawl import schedule_states
from copyseal.db.models import Work
from copyseal.db.schema.bundle import EvidenceBundle
from copyseal.db.schema.crawl import CrawlImage, CrawlJob, CrawlMatch, CrawlPage
from copyseal.db.schema.review import Case
from copyseal.errors import CopysealError
from copyseal.review._sql import host_of, latest_decisions, source, url_prefix
from copyseal.review.queue import QueueFilter, queue
from copyseal.review.shown import ShownBundle, verify_shown
from copyseal.times import iso, utc
from copyseal.workspace import Workspace

__all__ = ["BundleState", "Dashboard", "bundle_states", "dashboard"]


@dataclass(frozen=True, kw_only=True)
class BundleState:
    """A bundle and whether it verifies against the ledger now (None: not checked)."""

    bundle_id: str
    page_url: str
    captured_at: str | None
    ledger_index: int
    ok: bool | None
    failed: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle_id": self.bundle_id,
            "page_url": self.page_url,
            "captured_at": self.captured_at,
            "ledger_index": self.ledger_index,
            "ok": self.ok,
            "failed": list(self.failed),
        }


@dataclass(frozen=True, kw_only=True)
class Dashboard:
    """The aggregates the dashboard shows."""

    works: int
    works_removed: int
    crawls: dict[str, int]
    pages: dict[str, int]
    images: int
    matches: dict[str, int]
    top_domains: tuple[tuple[str, int, int], ...]
    bundles: tuple[BundleState, ...]
    cases: int
    #: Scheduled crawls: ``copyseal schedule list --json`` entries (next and last run).
    schedules: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "works": self.works,
            "works_removed": self.works_removed,
            "crawls": self.crawls,
            "pages": self.pages,
            "images": self.images,
            "matches": self.matches,
            "top_domains": [
                {"site": s, "matches": n, "confirmed": c} for s, n, c in self.top_domains
            ],
            "bundles": [b.to_json() for b in self.bundles],
            "bundles_ok": sum(1 for b in self.bundles if b.ok),
            "bundles_failed": sum(1 for b in self.bundles if b.ok is False),
            "cases": self.cases,
            "schedules": list(self.schedules),
        }


def _verified(ws: Workspace, row: EvidenceBundle) -> BundleVerification:
    """The bundle verified live and against its row (found through the evidence store)."""
    try:
        path = ws.store.locate(row.path)
    except CopysealError as e:
        return BundleVerification(
            path=row.path, checks=(Check(name="bundle", ok=False, detail=str(e)),)
        )
    shown = ShownBundle(
        bundle_id=row.bundle_id,
        page_url=row.page_url,
        leaf_hash=row.leaf_hash,
        ledger_index=row.ledger_index,
    )
    return verify_shown(ws, path, shown)


def bundle_states(ws: Workspace, *, verify: bool = True) -> list[BundleState]:
    """Every sealed bundle, newest first, verified live when ``verify``."""
    with Session(ws.engine) as s:
        rows = s.scalars(select(EvidenceBundle).order_by(EvidenceBundle.ledger_index.desc())).all()
    out = []
    for r in rows:
        result = _verified(ws, r) if verify else None
        out.append(
            BundleState(
                bundle_id=r.bundle_id,
                page_url=r.page_url,
                captured_at=iso(utc(r.captured_at)),
                ledger_index=r.ledger_index,
                ok=None if result is None else result.ok,
                failed=() if result is None else tuple(c.name for c in result.failures()),
            )
        )
    return out


def _grouped(s: Session, column: Any) -> dict[str, int]:
    return {str(k): int(n) for k, n in s.execute(select(column, func.count()).group_by(column))}


def _sites(ws: Workspace) -> tuple[Counter[str], Counter[str]]:
    """Matches per site that are not rejected, and confirmed ones (counted in SQL)."""
    decided = latest_decisions()
    prefix = url_prefix(CrawlMatch.page_url)
    query = (
        select(prefix, decided.c.decision, func.count())
        .select_from(source(decided))
        .group_by(prefix, decided.c.decision)
    )
    per_site: Counter[str] = Counter()
    confirmed: Counter[str] = Counter()
    with ws.engine.connect() as conn:
        for url, decision, n in conn.execute(query):
            if decision != "rejected":
                per_site[host_of(url)] += int(n)
            if decision == "confirmed":
                confirmed[host_of(url)] += int(n)
    return per_site, confirmed


def dashboard(ws: Workspace, *, verify: bool = True, top: int = 10) -> Dashboard:
    """Compute the dashboard (``verify``: check every bundle now, which reads every file)."""
    with Session(ws.engine) as s:
        works = int(s.scalar(select(func.count()).where(Work.removed_at.is_(None))) or 0)
        removed = int(s.scalar(select(func.count()).where(Work.removed_at.is_not(None))) or 0)
        crawls = _grouped(s, CrawlJob.status)
        pages = _grouped(s, CrawlPage.status)
        images = int(s.scalar(select(func.count()).select_from(CrawlImage)) or 0)
        cases = int(s.scalar(select(func.count()).select_from(Case)) or 0)
    page = queue(ws, QueueFilter(limit=1))
    per_site, confirmed = _sites(ws)
    return Dashboard(
        works=works,
        works_removed=removed,
        crawls=crawls,
        pages=pages,
        images=images,
        matches=page.counts,
        top_domains=tuple(
            (site, n, confirmed[site])
            for site, n in sorted(per_site.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        ),
        bundles=tuple(bundle_states(ws, verify=verify)),
        cases=cases,
        schedules=tuple(s.to_json() for s in schedule_states(ws)),
    )
