"""``copyseal market …``: the on-chain licence market (see :mod:`copyseal.market`).

``--json`` shapes (public contracts; times RFC 3339, amounts in wei as integers):

- ``deploy NAME``: ``{"name", "chain_id", "contract", "tx_hash", "block_number"}``.
- ``offer WORK_ID``: ``{"offer_id", "work_id", "price_wei", "valid_days", "terms_sha256",
  "payment_uri", "tx_hash"}``.
- ``offers``: a list: ``{"offer_id", "work_id", "work_sha256", "author", "price_wei",
  "valid_days", "terms_sha256", "active", "payment_uri"}``.
- ``withdraw OFFER_ID``: ``{"offer_id", "tx_hash"}``.
- ``sync``: ``{"imported": n, "licences": [...], "pending": [...], "warnings": [...]}``
  (licence objects as ``licences list --json`` shows them).
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from copyseal.cli._common import App, emit, json_option, pass_app

__all__ = ["market"]


@click.group()
def market() -> None:
    """Sell licences of your works on an EVM chain; the author is paid at once."""


@market.command(name="deploy")
@click.argument("name")
@json_option
@pass_app
def deploy_command(app: App, name: str, as_json: bool) -> None:
    """Deploy the licence market contract on chain anchors.evm.NAME and remember it."""
    from copyseal.market import deploy

    data = deploy(app.workspace(), name)
    emit(
        app,
        data,
        as_json=as_json,
        human=lambda c: c.print(
            f"deployed the market {data['contract']} on chain {data['chain_id']}"
            f" (block {data['block_number']}, tx {data['tx_hash']})"
        ),
    )


@market.command(name="offer")
@click.argument("work_id")
@click.option("--price-wei", type=click.IntRange(min=1), required=True, help="Price in wei.")
@click.option(
    "--duration-days", type=click.IntRange(min=1), required=True, help="Licence duration."
)
@click.option(
    "--terms-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    required=True,
    help='The licence terms (a JSON object\'s "domains" list says where, if the buyer'
    " makes no claim).",
)
@json_option
@pass_app
def offer_command(
    app: App, work_id: str, price_wei: int, duration_days: int, terms_file: Path, as_json: bool
) -> None:
    """Offer a licence of WORK_ID; prints the offer id and an EIP-681 payment URI."""
    from copyseal.market import make_offer

    data = make_offer(
        app.workspace(),
        work_id,
        price_wei=price_wei,
        duration_days=duration_days,
        terms=terms_file.read_bytes(),
    )

    def human(console: Console) -> None:
        console.print(f"offer {data['offer_id']} (tx {data['tx_hash']})")
        console.print(data["payment_uri"], soft_wrap=True)

    emit(app, data, as_json=as_json, human=human)


@market.command(name="withdraw")
@click.argument("offer_id", type=click.IntRange(min=1))
@json_option
@pass_app
def withdraw_command(app: App, offer_id: int, as_json: bool) -> None:
    """Withdraw offer OFFER_ID."""
    from copyseal.market import withdraw

    data = withdraw(app.workspace(), offer_id)
    emit(app, data, as_json=as_json, human=lambda c: c.print(f"withdrew offer {offer_id}"))


@market.command(name="offers")
@json_option
@pass_app
def offers_command(app: App, as_json: bool) -> None:
    """List the market's offers."""
    from copyseal.market import offers

    rows = offers(app.workspace())

    def human(console: Console) -> None:
        table = Table(title=f"{len(rows)} offer(s)")
        for column in ("offer", "work", "price (wei)", "days", "active"):
            table.add_column(column, overflow="fold")
        for r in rows:
            table.add_row(
                str(r["offer_id"]),
                r["work_id"] or r["work_sha256"],
                f"{r['price_wei']:,}",
                f"{r['valid_days']:g}",
                "yes" if r["active"] else "withdrawn",
            )
        console.print(table)

    emit(app, rows, as_json=as_json, human=human)


@market.command(name="sync")
@click.option(
    "--claims",
    "claims",
    multiple=True,
    type=click.Path(path_type=Path, exists=True),
    help='Licensee claims ({"licensee", "domains"} JSON; a file or a folder of *.json).',
)
@json_option
@pass_app
def sync_command(app: App, claims: tuple[Path, ...], as_json: bool) -> None:
    """Import the market's sales (LicenceSold events) into the licence registry."""
    from copyseal.market import sync

    data = sync(app.workspace(), claims=claims)

    def human(console: Console) -> None:
        console.print(f"imported {data['imported']} sale(s), {len(data['licences'])} known")
        for warning in data["warnings"]:
            console.print(f"[yellow]warning[/yellow] {warning}")

    emit(app, data, as_json=as_json, human=human)
