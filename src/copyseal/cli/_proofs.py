"""Writing a ledger entry's receipt and its anchor proof file (``works anchor-proof``,
``ledger anchor-proof``): both files or neither, never over an existing one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from copyseal.cli._common import App, emit

__all__ = ["emit_entry_proof"]


def emit_entry_proof(
    app: App, out: Path, receipt: str, data: bytes, *, head: dict[str, Any], as_json: bool
) -> None:
    """Write ``receipt`` to ``out`` and the proof file beside it (``OUT.anchor-proof.json``)
    and report ``{**head, "index", "receipt", "anchor_proof", "size", "anchored"}``."""
    from copyseal.anchors.proof_file import parse_proof_file
    from copyseal.files import publish_bytes

    proof_out = out.with_name(out.name + ".anchor-proof.json")
    for path in (out, proof_out):  # checked first, so that neither file is half written
        if path.exists():
            raise click.UsageError(f"{path} exists (never overwritten): choose another --out")
    publish_bytes(out, receipt.encode("utf-8"))
    publish_bytes(proof_out, data)
    parsed = parse_proof_file(data)
    assert parsed.entry is not None
    anchored: list[dict[str, Any]] = [
        {"size": a.size, "anchors": [f"{e.kind}:{e.name}" for e in a.anchors]}
        for a in parsed.anchored
    ]
    index = parsed.entry.index
    result = {
        **head,
        "index": index,
        "receipt": str(out),
        "anchor_proof": str(proof_out),
        "size": parsed.size,
        "anchored": anchored,
    }
    emit(
        app,
        result,
        as_json=as_json,
        human=lambda c: c.print(
            f"wrote {out} (entry {index}, checkpoint {parsed.size:,}) and {proof_out}: "
            + "; ".join(f"{a['size']:,} ({', '.join(a['anchors'])})" for a in anchored)
        ),
    )
