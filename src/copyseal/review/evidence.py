"""Live verification of a bundle against the workspace's ledger, and safe file access.

"Live" means: the bundle is checked right now, with the workspace's own verifier key
(not the key inside the bundle), and the ledger's newest checkpoint must be consistent
with the checkpoint in the bundle's receipt (the log was not rewritten since).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from copyseal.anchors import RECEIPT_KIND, AnchorContext, anchor_for, verify_stated
from copyseal.bundle.check import BundleVerification, Check, verify_bundle
from copyseal.errors import CopysealError, EvidenceStoreError
from copyseal.ledger.proof import parse_receipt
from copyseal.review.errors import NotFound
from copyseal.workspace import Workspace

__all__ = ["BundleFile", "bundle_file", "bundle_path_of", "verify_live"]

# File names fixed by the bundle format (README, "Evidence bundles").
MANIFEST = "manifest.json"
RECEIPT = "manifest.json.tlog-proof"


def verify_live(ws: Workspace, path: Path) -> BundleVerification:
    """Verify the bundle at ``path`` against the workspace's ledger, now."""
    ledger = ws.ledger()
    vkey = ledger.vkey()
    newer = None
    try:
        receipt = parse_receipt((path / RECEIPT).read_bytes())
        anchor = anchor_for(RECEIPT_KIND, AnchorContext(vkey=vkey))
        size = verify_stated(anchor, receipt.checkpoint_note)[0].size
        latest = ledger.latest_checkpoint()
        if latest.size >= size:
            newer = (latest.note, ledger.consistency_proof(size, latest.size))
    except (OSError, CopysealError):
        newer = None  # the receipt check below reports what is wrong
    try:
        return verify_bundle(path, vkey=vkey, newer=newer)
    except CopysealError as e:
        return BundleVerification(
            path=str(path), checks=(Check(name="bundle", ok=False, detail=str(e)),)
        )


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
