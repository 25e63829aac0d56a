"""``copyseal cases``: group confirmed matches into cases.

``--json`` shapes: ``cases list --json`` → ``[{"case_id", "title", "domain", "created_by",
"created_at", "match_ids", "exports": [{"file_name", "package_sha256", "size",
"recipient", "exported_by", "exported_at", "ledger_index"}]}]``; ``cases create --json``
and ``cases show CASE --json`` → one such object.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime

import click
from rich.console import Console
from rich.table import Table

from copyseal.cli._common import App, emit, json_option, pass_app
from copyseal.review.cases import CaseRecord, create_case, get_case, list_cases
from copyseal.review.errors import ReviewError
from copyseal.review.queue import QueueFilter, queue
from copyseal.review.users import UserRecord, get_user
from copyseal.workspace import Workspace

__all__ = ["cases", "operator"]


def operator(ws: Workspace, name: str | None) -> UserRecord:
    """Who acts from the command line: the named account, else the local operator (who
    holds the workspace's files and keys, hence every right)."""
    if name is not None:
        return get_user(ws, name)
    return UserRecord(
        user_id=0, name=f"cli:{getpass.getuser()}", role="admin", created_at=datetime.now(UTC)
    )


def _table(records: list[CaseRecord]) -> Table:
    table = Table(title=f"{len(records)} case(s)")
    for column in ("case", "title", "domain", "matches", "exports", "opened (UTC)", "by"):
        table.add_column(column)
    for c in records:
        table.add_row(
            c.case_id,
            c.title,
            c.domain or "several",
            str(len(c.match_ids)),
            str(len(c.exports)),
            c.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            c.created_by,
        )
    return table


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def cases(ctx: click.Context, as_json: bool) -> None:
    """List cases (and create them with 'cases create')."""
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(App)
    assert app is not None
    records = list_cases(app.workspace())
    emit(
        app,
        [c.to_json() for c in records],
        as_json=as_json,
        human=lambda c: c.print(_table(records)),
    )


@cases.command(name="list")
@json_option
@pass_app
def cases_list(app: App, as_json: bool) -> None:
    """List cases, newest first."""
    records = list_cases(app.workspace())
    emit(
        app,
        [c.to_json() for c in records],
        as_json=as_json,
        human=lambda c: c.print(_table(records)),
    )


@cases.command(name="show")
@click.argument("case_id")
@json_option
@pass_app
def cases_show(app: App, case_id: str, as_json: bool) -> None:
    """Show one case."""
    record = get_case(app.workspace(), case_id)
    emit(app, record.to_json(), as_json=as_json, human=lambda c: c.print(_table([record])))


@cases.command(name="create")
@click.argument("match_ids", nargs=-1, type=int)
@click.option("--title", required=True, help="What the case is about.")
@click.option(
    "--domain",
    help="Take every confirmed match on this domain that is in no case yet.",
)
@click.option("--as", "as_user", help="Act as this account (legal or admin).")
@json_option
@pass_app
def cases_create(
    app: App,
    match_ids: tuple[int, ...],
    title: str,
    domain: str | None,
    as_user: str | None,
    as_json: bool,
) -> None:
    """Open a case with confirmed MATCH_IDS (or --domain)."""
    ws = app.workspace()
    ids = list(match_ids)
    if domain:
        confirmed = queue(ws, QueueFilter(status="confirmed", site=domain, limit=500)).items
        ids += [i.match_id for i in confirmed if not i.cases]
    if not ids:
        raise ReviewError("no matches: give confirmed MATCH_IDS or a --domain with some")
    record = create_case(ws, operator(ws, as_user), title=title, match_ids=ids)

    def human(console: Console) -> None:
        console.print(f"created {record.case_id}: {len(record.match_ids)} match(es)")

    emit(app, record.to_json(), as_json=as_json, human=human)
