"""A bundle checked against the database rows shown with it, not only against itself.

The app and the case export show a bundle through rows (``evidence_bundles``,
``crawl_matches``) that anyone with write access to the database can change without
touching the evidence: pointing a match at another genuine bundle, or a bundle row at
another folder, would otherwise show one page's URL next to another page's "verified"
evidence. So, besides :func:`copyseal.review.evidence.verify_live`'s checks:

- ``record``: the bundle's signed manifest has the row's ``bundle_id``, the page URL
  shown, and the leaf hash and ledger index the row records; for a match, the manifest
  records that match (its image URL and work);
- ``entry``: the ledger still holds the bundle's manifest at that index, and as many
  entries as the receipt's checkpoint covers (a ledger whose entries were deleted
  without its checkpoints is shorter than the receipt all the same).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag

from copyseal.bundle.check import BundleVerification, Check
from copyseal.errors import CopysealError
from copyseal.ledger.merkle import leaf_hash
from copyseal.review.evidence import verify_live
from copyseal.review.queue import MatchItem
from copyseal.workspace import Workspace

__all__ = ["ShownBundle", "entry_check", "shown_of", "verify_shown", "verify_shown_match"]


@dataclass(frozen=True, kw_only=True)
class ShownBundle:
    """What a page or an export shows of a bundle, read from the database."""

    bundle_id: str
    #: The page URL shown with it (the match's, or the bundle row's).
    page_url: str
    #: The leaf hash (hex) and ledger index the bundle row records.
    leaf_hash: str
    ledger_index: int
    #: For a match: its found image's URL and its work.
    image_url: str | None = None
    work_id: str | None = None


def _lists_match(match: Mapping[str, Any] | None, image_url: str, work_id: str | None) -> bool:
    for entry in (match or {}).get("matches") or []:
        if not isinstance(entry, dict) or entry.get("image_url") != image_url:
            continue
        if work_id is None or (entry.get("match") or {}).get("work_id") == work_id:
            return True
    return False


def _same_page(a: str, b: str) -> bool:
    """Equal URLs but for the fragment, which names a part of the page and is never sent
    to the server (RFC 3986 §3.5): both name the document that was captured."""
    return urldefrag(a).url == urldefrag(b).url


def _record(result: BundleVerification, shown: ShownBundle) -> Check:
    manifest = result.manifest
    if manifest is None:
        return Check(name="record", ok=False, detail="no readable manifest to hold the row to")
    data = manifest.to_bytes()  # the bytes read: parsing required them canonical
    problems = []
    if manifest.bundle_id != shown.bundle_id:
        problems.append(f"the row says bundle {shown.bundle_id}, the manifest {manifest.bundle_id}")
    if not _same_page(manifest.url, shown.page_url):
        problems.append(f"the page shown is {shown.page_url}, the manifest's {manifest.url}")
    if leaf_hash(data).hex() != shown.leaf_hash:
        problems.append("the row's leaf hash is not the manifest's")
    if result.ledger_index is not None and result.ledger_index != shown.ledger_index:
        problems.append(
            f"the row says ledger entry {shown.ledger_index}, the receipt {result.ledger_index}"
        )
    if shown.image_url is not None and not _lists_match(
        manifest.match, shown.image_url, shown.work_id
    ):
        problems.append(f"the manifest records no match of {shown.work_id} at {shown.image_url}")
    if problems:
        return Check(name="record", ok=False, detail="; ".join(problems))
    return Check(
        name="record",
        ok=True,
        detail=f"the database row shows bundle {manifest.bundle_id} of {manifest.url}",
    )


def entry_check(ws: Workspace, result: BundleVerification) -> Check | None:
    """The ``entry`` check of a verified bundle against the workspace's ledger (None when
    the bundle's manifest or receipt did not verify: those checks say why)."""
    index, cp, manifest = result.ledger_index, result.checkpoint, result.manifest
    if index is None or cp is None or manifest is None:
        return None
    data = manifest.to_bytes()
    try:
        ledger = ws.ledger()
        entries = sum(ledger.status().entry_types.values())
        if entries < cp.size:
            return Check(
                name="entry",
                ok=False,
                detail=f"the ledger holds {entries} entries, fewer than the receipt's"
                f" checkpoint {cp.size}: entries were deleted",
            )
        if ledger.entry(index).leaf_hash != leaf_hash(data):
            return Check(
                name="entry", ok=False, detail=f"ledger entry {index} is not this manifest"
            )
    except CopysealError as e:
        return Check(name="entry", ok=False, detail=f"ledger entry {index}: {e}")
    return Check(name="entry", ok=True, detail=f"ledger entry {index} is this manifest")


def verify_shown(ws: Workspace, path: Path, shown: ShownBundle) -> BundleVerification:
    """:func:`~copyseal.review.evidence.verify_live` plus the ``record`` and ``entry``
    checks above (``ok`` only if the rows shown agree with the evidence)."""
    result = verify_live(ws, path)
    added = [_record(result, shown)]
    entry = entry_check(ws, result)
    if entry is not None:
        added.append(entry)
    return replace(result, checks=(*result.checks, *added))


def shown_of(item: MatchItem) -> ShownBundle | None:
    """What the match page shows of the match's bundle (None: it has none)."""
    if (
        item.item.bundle_id is None
        or item.bundle_leaf_hash is None
        or item.bundle_ledger_index is None
    ):
        return None
    return ShownBundle(
        bundle_id=item.item.bundle_id,
        page_url=item.item.page_url,
        leaf_hash=item.bundle_leaf_hash,
        ledger_index=item.bundle_ledger_index,
        image_url=item.item.image_url,
        work_id=item.item.work_id,
    )


def verify_shown_match(ws: Workspace, item: MatchItem) -> BundleVerification | None:
    """The match's bundle checked against the match and bundle rows shown with it (None:
    the match has no bundle; a failed ``bundle`` check when its row names a path outside
    the evidence store)."""
    if item.bundle_refused is not None:
        return BundleVerification(
            path="", checks=(Check(name="bundle", ok=False, detail=item.bundle_refused),)
        )
    shown = shown_of(item)
    if item.bundle_path is None or shown is None:
        return None
    return verify_shown(ws, item.bundle_path, shown)
