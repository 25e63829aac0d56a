"""``copyseal bundles``: list sealed evidence bundles, export one as a ``.zip``, and write
one's anchor proof.

``anchor-proof --json``: ``{"bundle_id", "file", "size", "anchored": [{"size", "anchors":
["KIND:NAME", ...]}]}`` (``size``: the bundle's receipt checkpoint).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from copyseal.bundle import export_zip
from copyseal.cli._common import App, emit, json_option, pass_app
from copyseal.db.schema.bundle import EvidenceBundle
from copyseal.errors import BundleError

__all__ = ["bundles"]


def _row_json(b: EvidenceBundle) -> dict[str, Any]:
    return {
        "bundle_id": b.bundle_id,
        "page_url": b.page_url,
        "job_id": b.job_id,
        "path": b.path,
        "manifest_sha256": b.manifest_sha256,
        "leaf_hash": b.leaf_hash,
        "ledger_index": b.ledger_index,
        "captured_at": b.captured_at.isoformat(),
    }


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def bundles(ctx: click.Context, as_json: bool) -> None:
    """List sealed evidence bundles (newest last)."""
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(App)
    assert app is not None
    with Session(app.workspace().engine) as db:
        rows = [
            _row_json(b)
            for b in db.scalars(select(EvidenceBundle).order_by(EvidenceBundle.created_at))
        ]

    def human(console: Console) -> None:
        table = Table(title=f"{len(rows)} evidence bundle(s)")
        for column in ("bundle", "page", "ledger entry", "captured (UTC)"):
            table.add_column(column, overflow="fold")
        for r in rows:
            table.add_row(
                r["bundle_id"], r["page_url"], str(r["ledger_index"]), r["captured_at"][:19]
            )
        console.print(table)

    emit(app, rows, as_json=as_json, human=human)


@bundles.command(name="zip")
@click.argument("bundle_id")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The .zip to write.",
)
@json_option
@pass_app
def bundles_zip(app: App, bundle_id: str, out: Path, as_json: bool) -> None:
    """Export bundle BUNDLE_ID as one .zip file (reproducible; never overwrites)."""
    ws = app.workspace()
    with Session(ws.engine) as db:
        row = db.get(EvidenceBundle, bundle_id)
    if row is None:
        raise BundleError(f"bundle {bundle_id}: no such bundle in this workspace")
    path = export_zip(ws.store.locate(row.path), out)
    import hashlib

    data = {
        "bundle_id": bundle_id,
        "zip": str(path),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    emit(
        app,
        data,
        as_json=as_json,
        human=lambda c: c.print(f"wrote {path} (sha256 {data['sha256']})"),
    )


@bundles.command(name="anchor-proof")
@click.argument("bundle_id")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The anchor proof file to write (JSON; never overwritten).",
)
@json_option
@pass_app
def bundles_anchor_proof(app: App, bundle_id: str, out: Path, as_json: bool) -> None:
    """Write the anchor proof of bundle BUNDLE_ID: from its checkpoint to anchored ones.

    Check it with 'copyseal verify BUNDLE --vkey KEY --anchor-proof FILE'.
    """
    from copyseal.anchors.proof_file import parse_proof_file
    from copyseal.anchors.service import bundle_proof
    from copyseal.files import publish_bytes

    data = bundle_proof(app.workspace(), bundle_id)
    publish_bytes(out, data)
    parsed = parse_proof_file(data)
    anchored: list[dict[str, Any]] = [
        {"size": a.size, "anchors": [f"{e.kind}:{e.name}" for e in a.anchors]}
        for a in parsed.anchored
    ]
    result = {"bundle_id": bundle_id, "file": str(out), "size": parsed.size, "anchored": anchored}
    emit(
        app,
        result,
        as_json=as_json,
        human=lambda c: c.print(
            f"wrote {out}: checkpoint {parsed.size:,} to "
            + "; ".join(f"{a['size']:,} ({', '.join(a['anchors'])})" for a in anchored)
        ),
    )
