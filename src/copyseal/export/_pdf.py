"""The case report as a PDF (fpdf2): summary, one section per match, the timeline of
each site, the chain of custody and how to verify.

Reproducible: the document's dates come from the case data (``as_of``), never from the
clock, and fpdf2 derives the file identifier from the content, so the same case gives
the same bytes. Fonts and line breaking: :mod:`copyseal.export._layout`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image

from copyseal import __version__
from copyseal.export._layout import MARGIN as _MARGIN
from copyseal.export._layout import SANS as _SANS
from copyseal.export._layout import Report as _Report
from copyseal.export._layout import facts as _facts
from copyseal.export._layout import heading as _heading
from copyseal.export._layout import para as _para
from copyseal.export._layout import when as _when
from copyseal.export._model import BundleData, CaseData, MatchData
from copyseal.export._pdf_timeline import timeline_section
from copyseal.times import utc

__all__ = ["render_report"]

_MAX_PIXELS = 1400


def _load_image(path: Path) -> Image.Image | None:
    try:
        with Image.open(path) as im:
            im.load()
            picture = im.convert("RGB")
    except OSError:
        return None
    picture.thumbnail((_MAX_PIXELS, _MAX_PIXELS))
    return picture


def _images(pdf: _Report, images: Sequence[tuple[str, Path]], *, per_row: int = 2) -> None:
    loaded = [(label, im) for label, path in images if (im := _load_image(path)) is not None]
    gap = 5.0
    width = (pdf.w - 2 * _MARGIN - gap * (per_row - 1)) / per_row
    for start in range(0, len(loaded), per_row):
        row = loaded[start : start + per_row]
        heights = [min(width * im.height / im.width, 80.0) for _, im in row]
        if pdf.get_y() + max(heights) + 8 > pdf.h - 18:
            pdf.add_page()
        top = pdf.get_y()
        for i, ((label, im), h) in enumerate(zip(row, heights, strict=True)):
            x = _MARGIN + i * (width + gap)
            w = min(width, h * im.width / im.height)
            pdf.set_xy(x, top)
            pdf.set_font(_SANS, "B", 8)
            pdf.cell(width, 4, pdf.shown(label))
            buffer = io.BytesIO()
            # JPEG keeps the report small; the exact image bytes are in the bundles.
            im.save(buffer, format="JPEG", quality=85)
            pdf.image(buffer, x=x, y=top + 5, w=w, h=h)
        pdf.set_xy(_MARGIN, top + 6 + max(heights) + 3)


def _summary(pdf: _Report, data: CaseData) -> None:
    case = data.case
    _heading(pdf, f"Evidence report: {case.title}", 18)
    _para(
        pdf,
        "This report accompanies a case package made by copyseal. Every finding below was"
        " captured and sealed in a signed evidence bundle anchored in an append-only Merkle"
        " ledger, then confirmed by a person. The bundles, receipts and checkpoints in the"
        " package can be verified by anyone, offline, with the ledger's verifier key.",
    )
    sites = sorted({m.site for m in data.matches})
    works = sorted({m.work["work_id"] for m in data.matches})
    _facts(
        pdf,
        [
            ("Case", case.case_id),
            ("Title", case.title),
            ("Infringing domain(s)", ", ".join(sites)),
            ("Opened", f"{_when(case.created_at)} by {case.created_by}"),
            ("Facts as of", _when(data.as_of)),
            ("Matches", len(data.matches)),
            ("Works", ", ".join(works)),
            ("Evidence bundles", len(data.bundles)),
            ("Ledger", data.origin),
            ("Ledger verifier key", data.vkey),
            ("Checkpoint", f"size {data.checkpoint.size}, root {data.checkpoint.root.hex()}"),
            ("Made by", f"copyseal {__version__}"),
        ],
    )
    _heading(pdf, "Findings", 12)
    for m in data.matches:
        decided = m.decisions[-1] if m.decisions else None
        _para(
            pdf,
            f"Match {m.match_id}: '{m.work.get('title')}' ({m.work['work_id']}) shown at"
            f" {m.image_url} on {m.page_url}; score {m.score:.3f}; "
            + (f"{decided.decision} by {decided.reviewer}" if decided else "not decided"),
            size=9,
        )


_KINDS = {
    "rfc3161": "time stamp of TSA",
    "evm": "block time on chain anchor",
    "witness": "cosignature of witness",
}


def _proven_text(bundle: BundleData) -> str:
    """The earliest time an anchor other than the log itself vouches for the bundle."""
    first = bundle.proven
    if first is None:
        return "none yet: no external anchor covers this bundle (its times are copyseal's)"
    what = _KINDS.get(first.kind, f"{first.kind} anchor")
    return (
        f"{_when(first.anchored_at)}, {what} {first.name} (anchored checkpoint size"
        f" {first.size}): the bundle existed no later than this"
    )


def _by_hand(bundle: BundleData) -> str:
    """One paragraph: how to check the proven time without copyseal's word for it."""
    if bundle.anchor_proof is None:
        return (
            "No anchor proof file is in this package for this bundle: no anchor covered"
            " its checkpoint when the package was made. Exporting the case again later"
            " adds it."
        )
    anchors = ", ".join(
        f"{a.kind}:{a.name} ({a.state}, {_when(a.anchored_at)})"
        for a in bundle.anchors
        if a.state != "pending"
    )
    return (
        f"How to check this by hand: anchors/{bundle.bundle_id}.anchor-proof.json holds the"
        f" RFC 9162 consistency proof from the bundle's checkpoint (size"
        f" {bundle.receipt_size}) to each anchored checkpoint, that checkpoint signed by the"
        " ledger's key, and each anchor's own proof of it (the TSA's token, the block"
        " header and receipt with their Merkle-Patricia proofs, the witness's"
        f" cosignature). Anchors: {anchors}. 'copyseal verify bundles/{bundle.bundle_id}.zip"
        ' --vkey "$(cat ledger/vkey)" --anchor-proof'
        f" anchors/{bundle.bundle_id}.anchor-proof.json' checks it all offline; copyseal's"
        " README (section 'Anchoring') says, per kind, how to check each proof by hand"
        " with openssl or any Ethereum tooling."
    )


def _rights_text(report: Any) -> str:
    """One line on the captured image's rights metadata (copyright management information)
    against the original's: what was removed or altered, how much was kept, the C2PA state."""
    if not isinstance(report, dict):
        return "not compared (the image was not kept, or the work predates the check)"
    parts, kept = [], 0
    for name, f in sorted((report.get("fields") or {}).items()):
        if f.get("status") == "removed":
            parts.append(f"{name} removed (was '{f.get('original')}')")
        elif f.get("status") == "altered":
            parts.append(f"{name} altered ('{f.get('original')}' to '{f.get('found')}')")
        else:
            kept += 1
    parts.append(f"{kept} field(s) kept" if kept or not parts else "none kept")
    parts.append(f"C2PA manifest: {report.get('c2pa', 'absent')}")
    return "; ".join(parts)


def _match_section(pdf: _Report, data: CaseData, m: MatchData) -> None:
    bundle = next(b for b in data.bundles if b.bundle_id == m.bundle_id)
    pdf.add_page()
    _heading(pdf, f"Match {m.match_id}: {m.work.get('title') or m.work['work_id']} on {m.site}")
    transform: dict[str, Any] = (m.report.get("match") or {}).get("transform") or {}
    _facts(
        pdf,
        [
            ("Page URL", m.page_url),
            ("Image URL", m.image_url),
            ("Found at", _when(m.found_at)),
            ("Captured at", _when(bundle.captured_at)),
            ("Work", f"{m.work.get('title')} ({m.work['work_id']}), owner {m.work.get('owner')}"),
            (
                "Work registered",
                f"{_when(m.work['registered_at'])}, ledger entry {m.work.get('ledger_index')}",
            ),
            ("Original SHA-256", m.work["original_sha256"]),
            ("Found image SHA-256", m.image_sha256),
            ("Score / method", f"{m.score:.4f} / {m.method}"),
            (
                "Transform",
                ", ".join(f"{k} {v}" for k, v in sorted(transform.items()) if k != "matrix") or "-",
            ),
            ("Bundle", f"bundles/{bundle.bundle_id}.zip"),
            ("Manifest SHA-256", bundle.manifest_sha256),
            ("Leaf hash", bundle.leaf_hash),
            (
                "Ledger entry",
                f"{bundle.ledger_index} (receipt checkpoint size {bundle.receipt_size})",
            ),
            ("Earliest proven time", _proven_text(bundle)),
            ("Rights metadata", _rights_text(m.report.get("rights_metadata"))),
        ],
    )
    _para(pdf, _by_hand(bundle), size=8.5)
    root = bundle.path
    labelled = [
        ("Registered work", m.files.get("work")),
        ("Image found on the page", m.files.get("found")),
        ("Overlay: matched region", m.files.get("overlay")),
        ("The image on the page, outlined", m.files.get("closeup")),
    ]
    _images(pdf, [(label, root / p) for label, p in labelled if p])
    if "screenshot" in m.files:
        _images(pdf, [("Page screenshot (viewport)", root / m.files["screenshot"])], per_row=1)
    _heading(pdf, "Decisions", 11)
    for d in m.decisions:
        reason = f" ({d.reason})" if d.reason else ""
        _para(
            pdf,
            f"{_when(d.decided_at)}: {d.decision}{reason} by {d.reviewer}, ledger entry"
            f" {d.ledger_index}. {d.comment}",
            size=9,
        )
    _heading(pdf, "Bundle receipt (manifest.json.tlog-proof)", 11)
    try:
        _para(pdf, (root / "manifest.json.tlog-proof").read_text("utf-8"), mono=True, size=7)
    except OSError:
        _para(pdf, "(missing)")


def _custody(pdf: _Report, data: CaseData) -> None:
    pdf.add_page()
    _heading(pdf, "Chain of custody")
    _para(
        pdf,
        "Each event is a statement in the ledger: the registration of the work, the sealed"
        " capture of the page, each review decision, each re-visit of the page and each"
        " notice sent, and the export of this package (whose SHA-256 is logged after it was"
        " written, so it cannot appear inside it).",
    )
    for m in data.matches:
        bundle = next(b for b in data.bundles if b.bundle_id == m.bundle_id)
        rows: list[tuple[str, object]] = [
            (
                "Registration",
                f"{_when(m.work['registered_at'])} - ledger entry"
                f" {m.work.get('ledger_index')} - work {m.work['work_id']}",
            ),
            (
                "Capture",
                f"{_when(bundle.captured_at)} - ledger entry {bundle.ledger_index} -"
                f" bundle {bundle.bundle_id}",
            ),
        ]
        rows += [
            (
                "Review",
                f"{_when(d.decided_at)} - ledger entry {d.ledger_index} - {d.decision}"
                f" by {d.reviewer}",
            )
            for d in m.decisions
        ]
        rows += [
            (
                "Anchored",
                f"{_when(a.anchored_at)} - checkpoint size {a.size} - {a.kind}:{a.name}"
                f" ({a.state})",
            )
            for a in bundle.anchors
            if a.state != "pending" and a.anchored_at is not None
        ]
        rows += _record_rows(data, m.match_id)
        rows.append(("Export", f"this package, facts as of {_when(data.as_of)}"))
        _heading(pdf, f"Match {m.match_id}", 10)
        _facts(pdf, rows)


def _record_rows(data: CaseData, match_id: int) -> list[tuple[str, object]]:
    """The match's re-visits (``continued-use`` statements) and the notices sent to its
    site (``notice-sent`` statements), in time order."""
    events: list[tuple[datetime, str, str]] = []
    for site in data.timelines:
        for mt in site.matches:
            if mt.match_id != match_id:
                continue
            events += [
                (
                    v.at,
                    "Re-visit",
                    f"{_when(v.at)} - ledger entry {v.ledger_index} - {v.result}"
                    + (f" - bundle {v.bundle_id}" if v.bundle_id else ""),
                )
                for v in mt.visits
                if v.ledger_index is not None
            ]
            events += [
                (
                    n.sent_at,
                    "Notice sent",
                    f"{_when(n.sent_at)} - ledger entry {n.ledger_index} - {n.kind}"
                    f" notice {n.notice_id} to {n.sent_to}",
                )
                for n in site.notices
            ]
    return [(label, text) for _, label, text in sorted(events, key=lambda e: e[0])]


def _how_to_verify(pdf: _Report, data: CaseData) -> None:
    pdf.add_page()
    _heading(pdf, "How to verify")
    _para(
        pdf,
        "1. Obtain the ledger's verifier key from a trusted source and compare it with"
        " ledger/vkey in the package:\n" + data.vkey + "\n\n"
        "2. Verify each evidence bundle (files, BagIt manifests, signature, checkpoint and"
        " inclusion proof):\n"
        '   copyseal verify bundles/BUNDLE.zip --vkey "$(cat ledger/vkey)"\n'
        "   Each bundle's README.txt explains how to do the same by hand (sha256sum,"
        " openssl, and the RFC 9162 proof).\n\n"
        "3. Verify each review decision against its receipt:\n"
        '   copyseal verify receipts/decision-N.tlog-proof --vkey "$(cat ledger/vkey)"'
        " --data receipts/decision-N.json\n\n"
        "4. ledger/checkpoint is the signed checkpoint (size"
        f" {data.checkpoint.size}) every decision receipt is made against; case.json gives,"
        " for each bundle, the RFC 9162 consistency proof from the bundle's own checkpoint"
        " to it, so all the evidence sits in one append-only history.\n\n"
        "5. Each anchor proof file (anchors/BUNDLE.anchor-proof.json, and"
        " anchors/checkpoint.anchor-proof.json for the decision receipts) proves that an"
        " anchor outside the workspace (a time-stamping authority, a chain, a witness)"
        " committed a checkpoint extending the bundle's, no later than its time:\n"
        '   copyseal verify bundles/BUNDLE.zip --vkey "$(cat ledger/vkey)"'
        " --anchor-proof anchors/BUNDLE.anchor-proof.json --tsa-ca TSA-CA.pem\n"
        "   (the TSA's CA certificate and the witnesses' keys from a source you trust).\n\n"
        "6. case.json lists every file of the package with its SHA-256.",
    )
    if pdf.replaced:
        _para(
            pdf,
            "Note: characters the report's fonts cannot show are written as their Unicode"
            " code points, e.g. [U+6771 U+4EAC]; case.json has the exact text.",
        )


def render_report(data: CaseData) -> bytes:
    """The PDF report of a case package (same data, same bytes)."""
    pdf = _Report(data.case.case_id)
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_creation_date(utc(data.as_of))
    # Metadata are UTF-16 text strings: any character, no font needed.
    pdf.set_title(f"copyseal case {data.case.case_id}: {data.case.title}")
    pdf.set_subject("Evidence report")
    pdf.set_author(data.case.created_by)
    pdf.set_creator(f"copyseal {__version__}")
    pdf.add_page()
    _summary(pdf, data)
    timeline_section(pdf, data.timelines)
    for m in data.matches:
        _match_section(pdf, data, m)
    _custody(pdf, data)
    _how_to_verify(pdf, data)
    return bytes(pdf.output())
