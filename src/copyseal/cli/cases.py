"""``copyseal cases``: group confirmed matches into cases.

``--json`` shapes: ``cases list --json`` → ``[{"case_id", "title", "domain", "created_by",
"created_at", "match_ids", "exports": [{"file_name", "package_sha256", "size",
"recipient", "exported_by", "exported_at", "ledger_index"}]}]``; ``cases create --json``
and ``cases show CASE --json`` → one such object. ``cases notice CASE --json`` and
``cases notice-sent CASE --json`` → ``{"notice_id", "case_id", "kind", "file_name",
"sha256", "size", "created_by", "created_at", "sent_to", "sent_at", "ledger_index"}``
(``cases notice`` adds ``"path"``, the file written).
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path

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


def _parse_time(value: str) -> datetime:
    """``--at``: RFC 3339 / ISO 8601 (a time without offset is UTC), or ``now``."""
    if value.strip().lower() == "now":
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as e:
        raise ReviewError(f"--at {value!r} is not an ISO 8601 time (2026-12-05T10:00:00Z)") from e
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@cases.command(name="notice")
@click.argument("case_id")
@click.option(
    "--kind",
    type=click.Choice(["dmca", "eu-dsa", "generic"]),
    required=True,
    help="dmca: 17 U.S.C. §512(c)(3); eu-dsa: Regulation (EU) 2022/2065 art. 16; generic.",
)
@click.option(
    "--sender-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="YAML with name, address, email (on_behalf_of, phone, signature optional)."
    " Default: sender.yaml beside the configuration file.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The notice file to write (never overwritten).",
)
@click.option("--as", "as_user", help="Act as this account (legal or admin).")
@json_option
@pass_app
def cases_notice(
    app: App,
    case_id: str,
    kind: str,
    sender_file: Path | None,
    out: Path,
    as_user: str | None,
    as_json: bool,
) -> None:
    """Write a takedown notice for CASE_ID from its facts (works, URLs, evidence)."""
    from copyseal.notices import load_sender, write_notice
    from copyseal.review.users import require

    ws = app.workspace()
    user = operator(ws, as_user)
    require(user, "cases")
    if sender_file is None:
        sender_file = ws.settings.base_dir / "sender.yaml"
    record = write_notice(
        ws, case_id, kind=kind, sender=load_sender(sender_file), out=out, created_by=user.name
    )

    def human(console: Console) -> None:
        console.print(
            f"wrote {kind} notice {record.notice_id} to {out} (sha256 {record.sha256});"
            f" after sending it: copyseal cases notice-sent {case_id} --to ADDRESS --at TIME"
        )

    emit(app, {**record.to_json(), "path": str(out)}, as_json=as_json, human=human)


@cases.command(name="notice-sent")
@click.argument("case_id")
@click.option("--to", "to", required=True, help="Where the notice went (email, address).")
@click.option("--at", "at", required=True, help="When it was sent (ISO 8601, UTC if no offset).")
@click.option("--notice", "notice_id", help="Which notice (default: the case's one unsent).")
@json_option
@pass_app
def cases_notice_sent(
    app: App, case_id: str, to: str, at: str, notice_id: str | None, as_json: bool
) -> None:
    """Record that CASE_ID's notice was sent: a notice-sent ledger statement with its hash."""
    from copyseal.notices import mark_sent
    from copyseal.pipeline import anchor_if_due

    ws = app.workspace()
    record = mark_sent(ws, case_id, to=to, at=_parse_time(at), notice_id=notice_id)
    anchor_if_due(ws)  # the statement is anchored like a crawl's seals, when due

    def human(console: Console) -> None:
        console.print(
            f"notice {record.notice_id} sent to {record.sent_to}: ledger entry"
            f" {record.ledger_index}"
        )

    emit(app, record.to_json(), as_json=as_json, human=human)
