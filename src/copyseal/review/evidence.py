"""Live verification of a bundle against the workspace's ledger, its anchor state, and
safe file access.

"Live" means: the bundle is checked right now, with the workspace's own verifier key
(not the key inside the bundle); the ledger's newest checkpoint must be consistent with
the checkpoint in the bundle's receipt (the log was not rewritten since), and a ledger
shorter than that checkpoint fails (it was truncated or rolled back); and the ledger must
still extend every checkpoint an anchor committed (``anchored``, checked only once some
anchor has committed one).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from copyseal.anchors import RECEIPT_KIND, Anchor, AnchorContext, anchor_for, verify_stated
from copyseal.bundle.check import BundleVerification, Check, verify_bundle
from copyseal.errors import CopysealError, EvidenceStoreError
from copyseal.ledger.merkle import verify_consistency
from copyseal.ledger.proof import parse_receipt
from copyseal.ledger.store import Ledger, SignedCheckpoint
from copyseal.review.errors import NotFound
from copyseal.times import iso, utc_or_none
from copyseal.workspace import Workspace

__all__ = [
    "ANCHOR_STATES",
    "AnchorState",
    "BundleFile",
    "anchor_proof_of",
    "anchor_states",
    "bundle_file",
    "bundle_path_of",
    "earliest_proven",
    "overall_state",
    "receipt_notes",
    "verify_live",
]

# File names fixed by the bundle format (README, "Evidence bundles").
MANIFEST = "manifest.json"
RECEIPT = "manifest.json.tlog-proof"
#: A bundle's state with one anchor: no anchored checkpoint of it covers the bundle's
#: receipt checkpoint yet; one does; one does and the anchor holds it final.
ANCHOR_STATES = ("pending", "anchored", "confirmed")


def _receipt_size(path: Path, anchor: Anchor) -> int | None:
    """The size of the bundle's receipt checkpoint, proven by the log's key (None when
    the receipt is unreadable or does not verify: ``checkpoint`` reports why)."""
    try:
        receipt = parse_receipt((path / RECEIPT).read_bytes())
        return verify_stated(anchor, receipt.checkpoint_note)[0].size
    except (OSError, CopysealError):
        return None


def _anchored_check(
    ws: Workspace, ledger: Ledger, anchor: Anchor, latest: SignedCheckpoint
) -> Check | None:
    """Whether the ledger still extends each anchor's newest anchored checkpoint (read
    from ``anchor_records``; None when nothing was anchored yet)."""
    from copyseal.anchors.service import anchored_notes

    with ws.engine.connect() as conn:
        anchored = anchored_notes(conn)
    if not anchored:
        return None
    by_note: dict[str, list[str]] = {}
    for kind, name, _size, note in anchored:
        by_note.setdefault(note, []).append(f"{kind}:{name}")
    problems: list[str] = []
    held: list[str] = []
    for note, names in by_note.items():
        label = ", ".join(names)
        try:
            cp, _ = verify_stated(anchor, note)
        except CopysealError as e:
            problems.append(f"the checkpoint anchored by {label} does not verify: {e}")
            continue
        if latest.size < cp.size:
            problems.append(
                f"the ledger has {latest.size} entries, fewer than checkpoint {cp.size}"
                f" anchored by {label}: it was truncated or rolled back"
            )
            continue
        try:
            verify_consistency(
                old_size=cp.size,
                new_size=latest.size,
                proof=ledger.consistency_proof(cp.size, latest.size),
                old_root=cp.root,
                new_root=latest.root,
            )
        except CopysealError as e:
            problems.append(
                f"the ledger (size {latest.size}) does not extend checkpoint {cp.size}"
                f" anchored by {label}: it was rewritten ({e})"
            )
            continue
        held.append(f"{cp.size} ({label})")
    if problems:
        return Check(name="anchored", ok=False, detail="; ".join(problems))
    return Check(
        name="anchored",
        ok=True,
        detail=f"the ledger (size {latest.size}) extends the anchored checkpoint(s) "
        + ", ".join(held),
    )


def receipt_notes(ws: Workspace) -> list[tuple[int, str]]:
    """The size and checkpoint note of every sealed bundle's receipt that the log's key
    signed (each distinct one once): checkpoints the log handed out, so ``ledger audit``
    holds the log to them — a log shorter than a receipt's checkpoint, or not extending
    it, fails the audit. Bundles whose receipt is unreadable or unsigned are left to the
    bundle's own verification to report."""
    from sqlalchemy import select

    from copyseal.db.schema.bundle import EvidenceBundle

    anchor = anchor_for(RECEIPT_KIND, AnchorContext(vkey=ws.ledger().vkey()))
    with ws.engine.connect() as conn:
        paths = conn.scalars(select(EvidenceBundle.path)).all()
    notes: dict[str, int] = {}
    for stored in paths:
        try:
            note = parse_receipt((ws.store.locate(stored) / RECEIPT).read_bytes()).checkpoint_note
            notes[note] = verify_stated(anchor, note)[0].size
        except (OSError, CopysealError):
            continue
    return [(size, note) for note, size in notes.items()]


def verify_live(ws: Workspace, path: Path) -> BundleVerification:
    """Verify the bundle at ``path`` against the workspace's ledger, now.

    Besides :func:`~copyseal.bundle.check.verify_bundle`'s checks: ``consistency`` fails
    when the ledger is shorter than the receipt's checkpoint or cannot prove it extends
    it, and ``anchored`` (before ``consistency``) fails when the ledger is shorter than,
    or does not extend, a checkpoint an anchor committed, naming the anchor.
    """
    ledger = ws.ledger()
    vkey = ledger.vkey()
    anchor = anchor_for(RECEIPT_KIND, AnchorContext(vkey=vkey))
    newer = None
    added: list[Check] = []
    latest: SignedCheckpoint | None = None
    size = _receipt_size(path, anchor)
    try:
        latest = ledger.latest_checkpoint()
        if size is None:
            pass  # the receipt check below reports what is wrong
        elif latest.size < size:
            added.append(
                Check(
                    name="consistency",
                    ok=False,
                    detail=f"the ledger has {latest.size} entries, fewer than the receipt's"
                    f" checkpoint {size}: it was truncated or rolled back",
                )
            )
        else:
            newer = (latest.note, ledger.consistency_proof(size, latest.size))
    except CopysealError as e:
        what = "be read" if size is None else f"prove it extends checkpoint {size}"
        added.append(Check(name="consistency", ok=False, detail=f"the ledger cannot {what}: {e}"))
    try:
        result = verify_bundle(path, vkey=vkey, newer=newer)
    except CopysealError as e:
        return BundleVerification(
            path=str(path), checks=(Check(name="bundle", ok=False, detail=str(e)),)
        )
    checks = list(result.checks)
    if latest is not None:
        try:
            held = _anchored_check(ws, ledger, anchor, latest)
        except CopysealError as e:
            held = Check(name="anchored", ok=False, detail=f"anchored checkpoints unreadable: {e}")
        if held is not None:
            at = next((i for i, c in enumerate(checks) if c.name == "consistency"), len(checks))
            checks.insert(at, held)
    return replace(result, checks=(*checks, *added))


@dataclass(frozen=True, kw_only=True)
class AnchorState:
    """A bundle's state with one configured anchor (``kind:name``): the smallest
    checkpoint it anchored that covers the bundle's receipt checkpoint, if any."""

    kind: str
    name: str
    #: One of :data:`ANCHOR_STATES`.
    state: str
    #: The anchored checkpoint's size (None while pending).
    size: int | None = None
    #: The anchor's own time for it (a TSA's genTime, a block's time, a cosignature's
    #: time; None for the ledger's own signature, which vouches for no time).
    anchored_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "state": self.state,
            "size": self.size,
            "anchored_at": iso(self.anchored_at),
        }


def _configured(ws: Workspace) -> list[tuple[str, str]]:
    """(kind, name) of every anchor the workspace runs: the ledger's own first."""
    from copyseal.anchors.ledger import KIND as LEDGER_KIND

    out = [(LEDGER_KIND, ws.ledger().origin)]
    for kind, named in ws.settings.anchors.entries().items():
        out.extend((kind, name) for name in named)
    return out


def anchor_states(ws: Workspace, size: int) -> tuple[AnchorState, ...]:
    """Per configured anchor, the state of a bundle whose receipt checkpoint has ``size``
    entries: the smallest checkpoint of at least ``size`` it anchored (the one the
    bundle's anchor proof file holds), ``confirmed`` when that record is final."""
    from sqlalchemy import and_, func, select

    from copyseal.anchors.service import ANCHORED, CONFIRMED
    from copyseal.db.schema.anchors import ANCHOR_RECORDS as rows

    done = (ANCHORED, CONFIRMED)
    smallest = (
        select(rows.c.kind, rows.c.name, func.min(rows.c.tree_size).label("size"))
        .where(rows.c.tree_size >= size, rows.c.status.in_(done))
        .group_by(rows.c.kind, rows.c.name)
        .subquery()
    )
    query = select(rows.c.kind, rows.c.name, rows.c.tree_size, rows.c.status, rows.c.anchored_at)
    query = query.join(
        smallest,
        and_(
            rows.c.kind == smallest.c.kind,
            rows.c.name == smallest.c.name,
            rows.c.tree_size == smallest.c.size,
        ),
    )
    with ws.engine.connect() as conn:
        found = {(r.kind, r.name): r for r in conn.execute(query)}
    out = []
    for kind, name in _configured(ws):
        r = found.get((kind, name))
        if r is None:
            out.append(AnchorState(kind=kind, name=name, state="pending"))
            continue
        out.append(
            AnchorState(
                kind=kind,
                name=name,
                state="confirmed" if r.status == CONFIRMED else "anchored",
                size=int(r.tree_size),
                anchored_at=utc_or_none(r.anchored_at),
            )
        )
    return tuple(out)


def overall_state(states: tuple[AnchorState, ...]) -> str:
    """A bundle's anchor state over every anchor: ``pending`` while one is, else
    ``confirmed`` when all are, else ``anchored``."""
    if not states or any(s.state == "pending" for s in states):
        return "pending"
    return "confirmed" if all(s.state == "confirmed" for s in states) else "anchored"


def earliest_proven(states: tuple[AnchorState, ...]) -> AnchorState | None:
    """The anchor whose time for the bundle is the earliest (the first external proof
    that it existed: a TSA's genTime, a block's time, a cosignature's time); None when
    no anchor that gives a time covers it yet."""
    timed = [s for s in states if s.state != "pending" and s.anchored_at is not None]
    return min(timed, key=lambda s: (s.anchored_at, s.kind, s.name), default=None)


def bundle_path_of(ws: Workspace, match_id: int) -> Path:
    """The folder of the evidence bundle that sealed a match, found through the
    workspace's evidence store.

    Raises:
        NotFound: no such match, it was not sealed, or its recorded path is relative
            and escapes the evidence store.
    """
    from sqlalchemy.orm import Session

    from copyseal.db.schema.bundle import EvidenceBundle
    from copyseal.db.schema.crawl import CrawlMatch

    with Session(ws.engine) as s:
        match = s.get(CrawlMatch, match_id)
        bundle = s.get(EvidenceBundle, match.bundle_id) if match and match.bundle_id else None
        if bundle is None:
            raise NotFound(f"match {match_id}: no such match or no evidence bundle")
        stored = bundle.path
    try:
        return ws.store.locate(stored)
    except EvidenceStoreError as e:
        raise NotFound(f"match {match_id}: {e}") from e


def anchor_proof_of(ws: Workspace, match_id: int) -> tuple[str, bytes]:
    """The anchor proof file of the bundle that sealed a match (the bytes ``copyseal
    bundles anchor-proof`` writes) and its file name, ``BUNDLE.anchor-proof.json``.

    Raises:
        NotFound: no such match, no bundle, or no anchored checkpoint covers it yet.
    """
    from sqlalchemy import select

    from copyseal.anchors.service import bundle_proof
    from copyseal.db.schema.crawl import CrawlMatch

    with ws.engine.connect() as conn:
        bundle_id = conn.execute(
            select(CrawlMatch.bundle_id).where(CrawlMatch.id == match_id)
        ).scalar()
    if bundle_id is None:
        raise NotFound(f"match {match_id}: no such match or no evidence bundle")
    try:
        data = bundle_proof(ws, bundle_id)
    except CopysealError as e:
        raise NotFound(f"match {match_id}: {e}") from e
    return f"{bundle_id}.anchor-proof.json", data


@dataclass(frozen=True, kw_only=True)
class BundleFile:
    """A file of a bundle that its manifest lists: where it is and its media type."""

    path: Path
    media_type: str
    sha256: str


def bundle_file(bundle: Path, name: str) -> BundleFile:
    """The bundle file the manifest lists as ``name`` (nothing else is ever served).

    Raises:
        NotFound: the manifest does not list ``name``, or it resolves outside the bundle.
    """
    from copyseal.bundle.manifest import parse_manifest

    try:
        manifest = parse_manifest((bundle / MANIFEST).read_bytes())
    except (OSError, CopysealError) as e:
        raise NotFound(f"bundle {bundle.name}: no readable manifest") from e
    entry = next((f for f in manifest.files if f.path == name), None)
    if entry is None:
        raise NotFound(f"bundle {bundle.name} lists no file {name!r}")
    root = bundle.resolve()
    path = (root / entry.path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFound(f"bundle {bundle.name}: {name!r} is missing")
    return BundleFile(path=path, media_type=entry.media_type, sha256=entry.sha256)
