"""``copyseal verify``: check a receipt offline, with the data and the log's vkey.

Needs no workspace and no database. ``--json`` shape (a public contract):
``{"ok": true, "origin", "index", "size", "root", "leaf_hash_hex"}`` (root in base64).
A failed verification prints ``error: …`` and exits with code 3.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import click
from rich.console import Console

from copyseal.cli._common import App, emit, json_option, pass_app
from copyseal.verify import verify_receipt_file

__all__ = ["verify"]

_HEX_HASH = re.compile(r"[0-9a-fA-F]{64}")


@click.command()
@click.argument("receipt", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--vkey",
    required=True,
    help="The log's verifier key (name+keyid+key), or a file holding it.",
)
@click.option(
    "--data",
    "data_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The logged bytes (a statement, or a bundle's manifest.json).",
)
@click.option("--leaf-hash", help="Instead of --data: the entry's leaf hash in hex.")
@click.option("--origin", help="The log origin to expect (default: the vkey's name).")
@json_option
@pass_app
def verify(
    app: App,
    receipt: Path,
    vkey: str,
    data_path: Path | None,
    leaf_hash: str | None,
    origin: str | None,
    as_json: bool,
) -> None:
    """Verify a tlog-proof RECEIPT offline against the data and the log's vkey."""
    if (data_path is None) == (leaf_hash is None):
        raise click.UsageError("give exactly one of --data or --leaf-hash")
    if leaf_hash is not None and not _HEX_HASH.fullmatch(leaf_hash):
        raise click.BadParameter("64 hex digits", param_hint="--leaf-hash")
    result = verify_receipt_file(
        receipt,
        vkey=vkey,
        data=data_path,
        leaf=None if leaf_hash is None else bytes.fromhex(leaf_hash),
        origin=origin,
    )
    data = {
        "ok": True,
        "origin": result.origin,
        "index": result.index,
        "size": result.size,
        "root": base64.b64encode(result.root).decode("ascii"),
        "leaf_hash_hex": result.leaf_hash.hex(),
    }

    def human(console: Console) -> None:
        console.print(
            f"[green]verified[/green]: entry {result.index} of {result.origin}"
            f" (checkpoint size {result.size:,}, root {data['root']})"
        )

    emit(app, data, as_json=as_json, human=human)
