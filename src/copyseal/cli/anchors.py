"""``copyseal anchors …``: anchor the ledger's checkpoints, see where each anchor stands,
deploy an EVM anchor's contract.

``--json`` shapes (public contracts; roots in base64, times RFC 3339):

- ``run``: a list, one object per configured anchor: ``{"kind", "name", "size", "root",
  "checkpoint" (the signed note), "status", "anchored_at", …}`` plus the kind's own fields
  (``evm``: ``chain_id``, ``contract``, ``tx_hash``, ``block_number``, ``block_hash``,
  ``log_index``, ``gas_used``; ``rfc3161``: ``token_file``, ``gen_time``, ``tsa``;
  ``witness``: ``cosignature``); a failed anchor has ``"error"`` (and ``attempts``,
  ``retry_at``). Exit code 0 even when one anchor failed (its error is in the output).
- ``status``: a list: ``{"kind", "name", "anchored_size", "anchored_at",
  "pending_entries", "last_error", "status", "attempts", "retry_at"}``.
- ``deploy NAME``: ``{"name", "chain_id", "contract", "tx_hash", "block_number"}``.
"""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from copyseal.cli._common import App, emit, json_option, pass_app

__all__ = ["anchors"]


@click.group()
def anchors() -> None:
    """Anchor the ledger's checkpoints (a chain, time stamps, witnesses)."""


@anchors.command(name="run")
@json_option
@pass_app
def run_command(app: App, as_json: bool) -> None:
    """Anchor the newest checkpoint with every configured anchor now, and wait for them."""
    from copyseal.anchors import service

    results = service.run(app.workspace(), wait=True)

    def human(console: Console) -> None:
        if not results:
            console.print("nothing to anchor: the ledger is empty")
        for r in results:
            where = f"{r['kind']}:{r['name']}"
            if "error" in r:
                console.print(f"[red]FAIL[/red] {where} size {r['size']:,}: {r['error']}")
            else:
                console.print(f"[green]ok[/green]   {where} size {r['size']:,} ({r['status']})")

    emit(app, results, as_json=as_json, human=human)


@anchors.command(name="status")
@json_option
@pass_app
def status_command(app: App, as_json: bool) -> None:
    """Show, per anchor, the newest checkpoint it anchored and what is still pending."""
    from copyseal.anchors import service

    rows = service.status(app.workspace())

    def human(console: Console) -> None:
        table = Table(title=f"{len(rows)} anchor(s)")
        for column in ("anchor", "anchored size", "anchored at", "pending", "last error"):
            table.add_column(column, overflow="fold")
        for r in rows:
            table.add_row(
                f"{r['kind']}:{r['name']}",
                "-" if r["anchored_size"] is None else f"{r['anchored_size']:,}",
                (r["anchored_at"] or "-")[:19],
                f"{r['pending_entries']:,}",
                r["last_error"] or "",
            )
        console.print(table)

    emit(app, rows, as_json=as_json, human=human)


@anchors.command(name="deploy")
@click.argument("name")
@json_option
@pass_app
def deploy_command(app: App, name: str, as_json: bool) -> None:
    """Deploy the anchoring contract of EVM anchor NAME (anchors.evm.NAME) and remember it."""
    from copyseal.anchors import service

    data = service.deploy(app.workspace(), name)
    emit(
        app,
        data,
        as_json=as_json,
        human=lambda c: c.print(
            f"deployed {data['contract']} on chain {data['chain_id']}"
            f" (block {data['block_number']}, tx {data['tx_hash']})"
        ),
    )
