"""``copyseal export CASE --out FILE.zip``: the case package for lawyers and courts.

``--json`` shape: ``{"case_id", "path", "sha256", "size", "bundles": [bundle_id],
"matches", "as_of", "ledger_index", "statement": {"type": "export", "case_id",
"package_sha256", "recipient", "time"}, "receipt", "statement_file", "receipt_file"}``.
Beside ``FILE.zip`` it writes ``FILE.zip.export.json`` (the ledger statement, byte for
byte) and ``FILE.zip.export.tlog-proof`` (its receipt).
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from copyseal.cli._common import App, emit, json_option, pass_app
from copyseal.cli.cases import operator
from copyseal.export import ExportError, export_case
from copyseal.files import publish_bytes
from copyseal.review.users import require

__all__ = ["export"]


@click.command()
@click.argument("case_id")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The package to write (FILE.zip; never overwritten).",
)
@click.option("--recipient", default="not stated", help="To whom the package goes (logged).")
@click.option("--as", "as_user", help="Act as this account (legal or admin).")
@json_option
@pass_app
def export(
    app: App, case_id: str, out: Path, recipient: str, as_user: str | None, as_json: bool
) -> None:
    """Export CASE: every bundle, receipts, checkpoint, vkey, a PDF report and case.json.

    The same case exported again gives the same bytes. The package's SHA-256 is appended
    to the ledger as an 'export' statement.
    """
    if out.suffix != ".zip":
        raise ExportError(f"{out}: the package must be a .zip file")
    ws = app.workspace()
    user = operator(ws, as_user)
    require(user, "export")
    statement_file = out.with_name(out.name + ".export.json")
    receipt_file = out.with_name(out.name + ".export.tlog-proof")
    # Checked before the export is logged: once it is in the ledger, its statement and
    # receipt must be written, never refused for a name that was taken all along.
    taken = [p for p in (statement_file, receipt_file) if p.exists()]
    if taken:
        raise ExportError(f"{taken[0]}: exists already; refusing to overwrite")
    result = export_case(ws, case_id, out=out, exported_by=user.name, recipient=recipient)
    publish_bytes(statement_file, result.statement)
    publish_bytes(receipt_file, result.receipt.encode("utf-8"))
    data = {
        **result.to_json(),
        "statement_file": str(statement_file),
        "receipt_file": str(receipt_file),
    }

    def human(console: Console) -> None:
        console.print(
            f"exported {case_id}: {result.matches} match(es), {len(result.bundles)} bundle(s)"
            f" -> {result.path} ({result.size:,} bytes)\n"
            f"SHA-256 {result.sha256}, ledger entry {result.ledger_index}"
        )

    emit(app, data, as_json=as_json, human=human)
