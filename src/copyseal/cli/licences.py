"""``copyseal licences``: grant, list and revoke licences of registered works.

``--json`` shapes: ``licences grant --json`` and ``licences revoke --json`` → one licence
object; ``licences list --json`` → a list of them. A licence object is ``{"licence_id",
"work_id", "licensee", "domains", "url_patterns", "valid_from", "valid_until",
"territory", "terms_sha256", "source" ("grant" | "market"), "buyer" (market only),
"tx_hash" (market only), "ledger_index", "revoked_at"}``; times are RFC 3339 UTC, null
when unset.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from copyseal.cli._common import App, emit, json_option, pass_app
from copyseal.licences import LicenceError, LicenceRecord, grant, list_licences, revoke

__all__ = ["licences"]


def _table(records: list[LicenceRecord]) -> Table:
    table = Table(title=f"{len(records)} licence(s)")
    for column in ("licence", "work", "licensee", "where", "from", "until", "source", "state"):
        table.add_column(column)
    for r in records:
        table.add_row(
            r.licence_id,
            r.work_id,
            r.licensee,
            r.where(),
            r.valid_from.strftime("%Y-%m-%d %H:%M"),
            r.valid_until.strftime("%Y-%m-%d %H:%M") if r.valid_until else "",
            r.source,
            f"revoked {r.revoked_at:%Y-%m-%d}" if r.revoked_at else "",
        )
    return table


def _list(app: App, work_id: str | None, as_json: bool) -> None:
    records = list_licences(app.workspace(), work_id=work_id)
    emit(
        app,
        [r.to_json() for r in records],
        as_json=as_json,
        human=lambda c: c.print(_table(records)),
    )


@click.group(invoke_without_command=True)
@click.option("--work", "work_id", metavar="WORK_ID", help="Only the licences of this work.")
@json_option
@click.pass_context
def licences(ctx: click.Context, work_id: str | None, as_json: bool) -> None:
    """List licences (and grant or revoke them with sub-commands).

    A match on a page a valid licence of its work covers is decided `licensed` when the
    crawl stores it, and never enters the review queue as `new`.
    """
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(App)
    assert app is not None
    _list(app, work_id, as_json)


@licences.command(name="list")
@click.option("--work", "work_id", metavar="WORK_ID", help="Only the licences of this work.")
@json_option
@pass_app
def licences_list(app: App, work_id: str | None, as_json: bool) -> None:
    """List licences, oldest first."""
    _list(app, work_id, as_json)


@licences.command(name="grant")
@click.argument("work_id")
@click.option("--licensee", required=True, help="Who is licensed (a name).")
@click.option(
    "--domain",
    "domains",
    multiple=True,
    metavar="D",
    help="A host the licence covers (example.com: that host only; *.example.com: its"
    " subdomains). Repeatable.",
)
@click.option(
    "--url-pattern",
    "url_patterns",
    multiple=True,
    metavar="P",
    help="A pattern of page URLs the licence covers (fnmatch: https://shop.example/p/*)."
    " Repeatable.",
)
@click.option("--from", "valid_from", metavar="DATE", help="Start (YYYY-MM-DD or ISO time, UTC).")
@click.option(
    "--until", "valid_until", metavar="DATE", help="End; a date covers that whole day (UTC)."
)
@click.option("--territory", metavar="T", help="Where the licence applies (recorded only).")
@click.option("--terms", metavar="TEXT", help="The licence terms.")
@click.option(
    "--terms-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A UTF-8 file with the licence terms.",
)
@json_option
@pass_app
def licences_grant(
    app: App,
    work_id: str,
    licensee: str,
    domains: tuple[str, ...],
    url_patterns: tuple[str, ...],
    valid_from: str | None,
    valid_until: str | None,
    territory: str | None,
    terms: str | None,
    terms_file: Path | None,
    as_json: bool,
) -> None:
    """Grant a licence of WORK_ID, logged in the ledger as a signed statement."""
    if terms is not None and terms_file is not None:
        raise click.UsageError("give --terms or --terms-file, not both")
    if terms_file is not None:
        try:
            terms = terms_file.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise LicenceError(f"{terms_file}: the terms file is not UTF-8 text") from e
    record = grant(
        app.workspace(),
        work_id,
        licensee=licensee,
        domains=domains,
        url_patterns=url_patterns,
        valid_from=valid_from,
        valid_until=valid_until,
        territory=territory,
        terms=terms,
    )
    emit(
        app,
        record.to_json(),
        as_json=as_json,
        human=lambda c: c.print(
            f"licence {record.licence_id}: {record.licensee} may use {record.work_id} on"
            f" {record.where()} (ledger index {record.ledger_index})"
        ),
    )


@licences.command(name="revoke")
@click.argument("licence_id")
@click.option("--reason", required=True, help="Why the licence is revoked.")
@json_option
@pass_app
def licences_revoke(app: App, licence_id: str, reason: str, as_json: bool) -> None:
    """Revoke LICENCE_ID from now on (a signed statement in the ledger)."""
    record = revoke(app.workspace(), licence_id, reason=reason)
    emit(
        app,
        record.to_json(),
        as_json=as_json,
        human=lambda c: c.print(f"licence {record.licence_id} revoked at {record.revoked_at}"),
    )
