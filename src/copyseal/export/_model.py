"""What a case package is made of, gathered once from the database and the bundles.

Everything here derives from stored data (never from the clock), so the same case with
the same decisions gives the same package, byte for byte; anchoring that progressed since
(a checkpoint anchored, a record confirmed) changes it, as it should.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from copyseal.anchors import RECEIPT_KIND, AnchorContext, anchor_for, verify_stated
from copyseal.db.models import Work
from copyseal.db.schema.bundle import EvidenceBundle
from copyseal.db.schema.crawl import CrawlMatch
from copyseal.errors import CopysealError, ExportError
from copyseal.ledger.checkpoint import Checkpoint
from copyseal.ledger.proof import Receipt, parse_receipt
from copyseal.ledger.store import SignedCheckpoint
from copyseal.review.cases import CaseRecord, get_case
from copyseal.review.decisions import DecisionRecord, history
from copyseal.review.evidence import AnchorState, anchor_states, earliest_proven
from copyseal.review.shown import ShownBundle, verify_shown
from copyseal.review.sites import domain_of
from copyseal.timeline import SiteTimeline, case_timelines
from copyseal.times import utc
from copyseal.workspace import Workspace

__all__ = ["AnchorState", "CaseData", "ExportError", "MatchData", "gather", "safe_name"]

log = logging.getLogger(__name__)

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def safe_name(name: str) -> str:
    """``name`` if it is one safe path component (letters, digits, ``._-``), else an error.

    Case and bundle ids become file names inside the package and in the exports folder;
    nothing that could climb out of a folder (``..``, ``/``, ``\\``) is ever accepted.
    """
    if not _SAFE.fullmatch(name) or ".." in name:
        raise ExportError(f"unsafe file name {name!r}")
    return name


@dataclass(frozen=True, kw_only=True)
class MatchData:
    """One match of the case with its work, bundle and decisions."""

    match_id: int
    page_url: str
    image_url: str
    site: str
    score: float
    method: str | None
    found_at: datetime
    image_sha256: str
    work: dict[str, Any]
    bundle_id: str
    decisions: tuple[DecisionRecord, ...]  # oldest first
    report: dict[str, Any]  # the match's entry in the bundle manifest
    files: dict[str, str]  # role -> manifest path (work, found, overlay, closeup, screenshot)


@dataclass(frozen=True, kw_only=True)
class BundleData:
    """A bundle of the case: its folder and its ledger facts."""

    bundle_id: str
    path: Path
    page_url: str
    manifest_sha256: str
    leaf_hash: str
    ledger_index: int
    captured_at: datetime
    receipt_size: int
    #: Its state with each configured anchor (see :func:`copyseal.review.evidence.
    #: anchor_states`), and its anchor proof file once one covers it.
    anchors: tuple[AnchorState, ...] = ()
    anchor_proof: bytes | None = None

    @property
    def proven(self) -> AnchorState | None:
        """The anchor with the earliest time that covers this bundle (None: none yet)."""
        return earliest_proven(self.anchors)


@dataclass(frozen=True, kw_only=True)
class CaseData:
    """Everything the package holds, and the checkpoint every receipt is made against."""

    case: CaseRecord
    matches: tuple[MatchData, ...]
    bundles: tuple[BundleData, ...]
    origin: str
    vkey: str
    checkpoint: SignedCheckpoint
    as_of: datetime
    #: Ledger index -> (statement bytes, tlog-proof receipt text) of every decision.
    decision_receipts: dict[int, tuple[bytes, str]]
    #: Bundle id -> consistency proof from its receipt's checkpoint to ``checkpoint``.
    consistency: dict[str, list[bytes]]
    #: The anchors' state for ``checkpoint`` (which every decision receipt is made
    #: against), and its anchor proof file once one covers it.
    checkpoint_anchors: tuple[AnchorState, ...] = ()
    checkpoint_proof: bytes | None = None
    #: Each site's record: the matches' visits since their capture, the notices sent.
    timelines: tuple[SiteTimeline, ...] = ()


def _files(
    manifest: dict[str, Any], image_url: str, work_id: str
) -> tuple[dict[str, Any], dict[str, str]]:
    listed = {f["path"] for f in manifest.get("files", [])}
    files = {
        k: v
        for k, v in (
            ("screenshot", "data/capture/screenshots/viewport.png"),
            ("full", "data/capture/screenshots/full.png"),
        )
        if v in listed
    }
    for n, entry in enumerate((manifest.get("match") or {}).get("matches") or [], start=1):
        if entry.get("image_url") == image_url and entry["match"].get("work_id") == work_id:
            for key, value in (
                ("work", (entry.get("work") or {}).get("original")),
                ("found", entry.get("captured_image")),
                ("overlay", entry.get("overlay")),
                ("closeup", f"data/capture/closeups/{n:02d}.png"),
            ):
                if isinstance(value, str) and value in listed:
                    files[key] = value
            return entry, files
    return {}, files


def _held_to_rows(ws: Workspace, path: Path, match: CrawlMatch, bundle: EvidenceBundle) -> None:
    """The package states what the rows say (page URL, bundle, ledger entry): the bundle
    must verify now, and agree with them (:mod:`copyseal.review.shown`).

    Raises:
        ExportError: it does not, naming the failed checks and why.
    """
    shown = ShownBundle(
        bundle_id=bundle.bundle_id,
        page_url=match.page_url,
        leaf_hash=bundle.leaf_hash,
        ledger_index=bundle.ledger_index,
        image_url=match.image_url,
        work_id=match.work_id,
    )
    result = verify_shown(ws, path, shown)
    if not result.ok:
        why = "; ".join(f"{c.name}: {c.detail}" for c in result.failures())
        raise ExportError(f"match {match.id}: bundle {bundle.bundle_id} is not verified ({why})")


def _visit_bundle(ws: Workspace, anchor: Any, bundle: EvidenceBundle) -> BundleData:
    """A re-visit's bundle, as the package lists it (its receipt's checkpoint read)."""
    path = ws.store.locate(bundle.path)
    try:
        receipt = parse_receipt((path / "manifest.json.tlog-proof").read_bytes())
        receipt_size = verify_stated(anchor, receipt.checkpoint_note)[0].size
    except (OSError, ValueError, CopysealError) as e:
        raise ExportError(f"bundle {bundle.bundle_id}: unreadable ({e})") from e
    return BundleData(
        bundle_id=safe_name(bundle.bundle_id),
        path=path,
        page_url=bundle.page_url,
        manifest_sha256=bundle.manifest_sha256,
        leaf_hash=bundle.leaf_hash,
        ledger_index=bundle.ledger_index,
        captured_at=utc(bundle.captured_at),
        receipt_size=receipt_size,
    )


def gather(ws: Workspace, case_id: str) -> CaseData:
    """Collect a case's matches, bundles, decisions, receipts and the pinned checkpoint.

    Raises:
        NotFound: no such case.
        ExportError: the case is empty or one of its matches has no evidence bundle.
    """
    case = get_case(ws, case_id)
    safe_name(case.case_id)
    if not case.match_ids:
        raise ExportError(f"case {case_id} has no matches")
    ledger = ws.ledger()
    anchor = anchor_for(RECEIPT_KIND, AnchorContext(vkey=ledger.vkey()))
    matches: list[MatchData] = []
    bundles: dict[str, BundleData] = {}
    with Session(ws.engine) as s:
        for match_id in sorted(case.match_ids):
            row = s.get(CrawlMatch, match_id)
            if row is None or row.bundle_id is None:
                raise ExportError(f"match {match_id} has no sealed evidence bundle")
            bundle = s.get(EvidenceBundle, row.bundle_id)
            work = s.get(Work, row.work_id)
            if bundle is None or work is None:
                raise ExportError(f"match {match_id}: bundle or work missing")
            path = ws.store.locate(bundle.path)
            try:
                manifest = json.loads((path / "manifest.json").read_bytes())
                receipt = parse_receipt((path / "manifest.json.tlog-proof").read_bytes())
                receipt_size = verify_stated(anchor, receipt.checkpoint_note)[0].size
            except (OSError, ValueError, CopysealError) as e:
                raise ExportError(f"bundle {bundle.bundle_id}: unreadable ({e})") from e
            if bundle.bundle_id not in bundles:
                bundles[bundle.bundle_id] = BundleData(
                    bundle_id=safe_name(bundle.bundle_id),
                    path=path,
                    page_url=bundle.page_url,
                    manifest_sha256=bundle.manifest_sha256,
                    leaf_hash=bundle.leaf_hash,
                    ledger_index=bundle.ledger_index,
                    captured_at=utc(bundle.captured_at),
                    receipt_size=receipt_size,
                )
            _held_to_rows(ws, path, row, bundle)
            report, files = _files(manifest, row.image_url, row.work_id)
            detail = json.loads(row.detail)
            matches.append(
                MatchData(
                    match_id=row.id,
                    page_url=row.page_url,
                    image_url=row.image_url,
                    site=domain_of(row.page_url),
                    score=float(row.score),
                    method=detail.get("method"),
                    found_at=utc(row.found_at),
                    image_sha256=row.image_sha256,
                    work={
                        "work_id": work.work_id,
                        "title": work.title,
                        "owner": work.owner,
                        "licence": work.licence,
                        "original_sha256": work.sha256,
                        "registered_at": utc(work.registered_at),
                        "ledger_index": work.ledger_index,
                    },
                    bundle_id=bundle.bundle_id,
                    decisions=tuple(reversed(history(ws, row.id))),
                    report=report,
                    files=files,
                )
            )
        # The re-visits' bundles are evidence of the use over time: in the package too.
        timelines = tuple(case_timelines(ws, case_id))
        for t in timelines:
            for v in (v for m in t.matches for v in m.visits):
                if v.bundle_id is not None and v.bundle_id not in bundles:
                    visit = s.get(EvidenceBundle, v.bundle_id)
                    if visit is not None:
                        bundles[visit.bundle_id] = _visit_bundle(ws, anchor, visit)
    indices = [b.ledger_index for b in bundles.values()]
    indices += [d.ledger_index for m in matches for d in m.decisions]
    last = max(indices)
    pinned = next((c for c in ledger.checkpoints() if c.size > last), None)
    if pinned is None:
        raise ExportError(f"no checkpoint covers ledger entry {last}")
    receipts = {}
    for d in (d for m in matches for d in m.decisions):
        proof = ledger.inclusion_proof(d.ledger_index, pinned.size)
        text = Receipt(
            index=d.ledger_index, proof=tuple(proof), checkpoint_note=pinned.note
        ).format()
        receipts[d.ledger_index] = (ledger.entry(d.ledger_index).data, text)
    prove = _prover(ws)
    for b in list(bundles.values()):
        states = anchor_states(ws, b.receipt_size)
        bundles[b.bundle_id] = replace(
            b,
            anchors=states,
            anchor_proof=prove(states, f"bundle {b.bundle_id}", b.bundle_id, None),
        )
    pinned_states = anchor_states(ws, pinned.size)
    times = [case.created_at, *(b.captured_at for b in bundles.values())]
    times += [d.decided_at for m in matches for d in m.decisions]
    times += [v.at for t in timelines for m in t.matches for v in m.visits]
    times += [n.sent_at for t in timelines for n in t.notices]
    return CaseData(
        case=case,
        matches=tuple(matches),
        bundles=tuple(sorted(bundles.values(), key=lambda b: b.bundle_id)),
        origin=ledger.origin,
        vkey=ledger.vkey(),
        checkpoint=pinned,
        as_of=max(times),
        decision_receipts=receipts,
        consistency={
            b.bundle_id: ledger.consistency_proof(b.receipt_size, pinned.size)
            for b in bundles.values()
        },
        checkpoint_anchors=pinned_states,
        checkpoint_proof=prove(pinned_states, f"checkpoint {pinned.size}", None, pinned.checkpoint),
        timelines=timelines,
    )


_Prover = Callable[[tuple[AnchorState, ...], str, str | None, Checkpoint | None], bytes | None]


def _prover(ws: Workspace) -> _Prover:
    """Builds anchor proof files with the workspace's anchors (built once): a bundle's
    (``bundle_id``) or a checkpoint's. None while nothing covers it, or when a proof
    cannot be built now (an anchor's node is down: logged; case.json's ``anchor_proof``
    is then null, and exporting again later adds the file)."""
    from copyseal.anchors.service import build, bundle_proof, checkpoint_proof

    built: list[Any] = []

    def prove(
        states: tuple[AnchorState, ...],
        what: str,
        bundle_id: str | None,
        checkpoint: Checkpoint | None,
    ) -> bytes | None:
        if all(s.state == "pending" for s in states):
            return None
        if not built:
            built.append(build(ws))
        try:
            if bundle_id is not None:
                return bundle_proof(ws, bundle_id, anchors=built[0])
            assert checkpoint is not None
            return checkpoint_proof(ws, checkpoint, anchors=built[0])
        except CopysealError as e:
            log.warning("export: no anchor proof of %s: %s", what, e)
            return None

    return prove
