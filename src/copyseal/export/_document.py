"""What a case package says in words and for machines: ``case.json`` and ``README.txt``
(see :mod:`copyseal.export.package` for the layout)."""

from __future__ import annotations

import base64
from typing import Any

from copyseal.export._model import AnchorState, CaseData
from copyseal.review.evidence import earliest_proven
from copyseal.times import iso

__all__ = ["CHECKPOINT_PROOF", "FORMAT", "README", "bundle_proof_name", "case_json"]

FORMAT = "copyseal-case/1"
#: The anchor proof file of ``ledger/checkpoint`` (every decision receipt's checkpoint).
CHECKPOINT_PROOF = "anchors/checkpoint.anchor-proof.json"


def bundle_proof_name(bundle_id: str) -> str:
    """Where a bundle's anchor proof file is in the package."""
    return f"anchors/{bundle_id}.anchor-proof.json"


def _anchoring(states: tuple[AnchorState, ...], proof: str | None) -> dict[str, Any]:
    """case.json's anchor fields: each anchor's state, the earliest proven time and the
    anchor proof file (null while no anchor covers it)."""
    first = earliest_proven(states)
    return {
        "anchors": [s.to_json() for s in states],
        "anchor_proof": proof,
        "proven_at": None if first is None else iso(first.anchored_at),
        "proven_by": None if first is None else f"{first.kind}:{first.name}",
    }


def case_json(data: CaseData, files: dict[str, tuple[str, int]]) -> dict[str, Any]:
    case = data.case

    def decision(d: Any) -> dict[str, Any]:
        return {
            **d.to_json(),
            "statement": f"receipts/decision-{d.ledger_index}.json",
            "receipt": f"receipts/decision-{d.ledger_index}.tlog-proof",
        }

    return {
        "format": FORMAT,
        "case_id": case.case_id,
        "title": case.title,
        "domain": case.domain,
        "created_by": case.created_by,
        "created_at": iso(case.created_at),
        "as_of": iso(data.as_of),
        "ledger": {
            "origin": data.origin,
            "vkey": data.vkey,
            "checkpoint": "ledger/checkpoint",
            "checkpoint_size": data.checkpoint.size,
            "checkpoint_root_hex": data.checkpoint.root.hex(),
            **_anchoring(
                data.checkpoint_anchors,
                CHECKPOINT_PROOF if data.checkpoint_proof is not None else None,
            ),
        },
        "matches": [
            {
                "match_id": m.match_id,
                "page_url": m.page_url,
                "image_url": m.image_url,
                "site": m.site,
                "score": round(m.score, 4),
                "method": m.method,
                "found_at": iso(m.found_at),
                "image_sha256": m.image_sha256,
                "work": {**m.work, "registered_at": iso(m.work["registered_at"])},
                "bundle": m.bundle_id,
                "files": {
                    k: f"bundles/{m.bundle_id}.zip!{m.bundle_id}/{v}"
                    for k, v in sorted(m.files.items())
                },
                "decisions": [decision(d) for d in m.decisions],
            }
            for m in data.matches
        ],
        "bundles": [
            {
                **_anchoring(
                    b.anchors,
                    bundle_proof_name(b.bundle_id) if b.anchor_proof else None,
                ),
                "bundle_id": b.bundle_id,
                "path": f"bundles/{b.bundle_id}.zip",
                "sha256": files[f"bundles/{b.bundle_id}.zip"][0],
                "page_url": b.page_url,
                "captured_at": iso(b.captured_at),
                "manifest_sha256": b.manifest_sha256,
                "leaf_hash": b.leaf_hash,
                "ledger_index": b.ledger_index,
                "receipt_checkpoint_size": b.receipt_size,
                "consistency_proof": [
                    base64.b64encode(h).decode("ascii") for h in data.consistency[b.bundle_id]
                ],
            }
            for b in data.bundles
        ],
        # Each site's record, as `copyseal timeline SITE --json` gives it.
        "timeline": [t.to_json() for t in data.timelines],
        "files": [
            {"path": name, "sha256": sha, "size": size}
            for name, (sha, size) in sorted(files.items())
        ],
    }


README = """copyseal case package {case_id}: {title}

Facts as of {as_of}. Made by copyseal from the workspace's database and evidence bundles.

  report.pdf                 the report: summary, each match, chain of custody, how to verify
  case.json                  the same facts for machines, with every file's SHA-256
  bundles/*.zip              the sealed evidence bundles (each has its own README.txt)
  ledger/vkey                the ledger's verifier key (compare it with a trusted copy)
  ledger/checkpoint          the signed checkpoint (size {size}) the decision receipts prove against
  receipts/decision-N.*      each review decision statement and its tlog-proof receipt
  anchors/BUNDLE.anchor-proof.json     a bundle's anchor proof file (TSA, chain, witness)
  anchors/checkpoint.anchor-proof.json the same for ledger/checkpoint: the decisions
                             (each only once an anchor covers it: see report.pdf)

Verify a bundle:    copyseal verify bundles/BUNDLE.zip --vkey "$(cat ledger/vkey)"
Verify a decision:  copyseal verify receipts/decision-N.tlog-proof --vkey "$(cat ledger/vkey)" \\
                        --data receipts/decision-N.json
Verify anchoring:   copyseal verify bundles/BUNDLE.zip --vkey "$(cat ledger/vkey)" \\
                        --anchor-proof anchors/BUNDLE.anchor-proof.json [--tsa-ca TSA-CA.pem] \\
                        [--witness VKEY]... [--rpc URL]
                    copyseal verify receipts/decision-N.tlog-proof --vkey "$(cat ledger/vkey)" \\
                        --data receipts/decision-N.json \\
                        --anchor-proof anchors/checkpoint.anchor-proof.json [same options]
                    (the TSA's CA and the witnesses' keys come from a source you trust; how
                    to check each kind of anchor by hand: copyseal's README, "Anchoring")
"""
