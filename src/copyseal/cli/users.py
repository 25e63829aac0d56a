"""``copyseal users``: accounts of the review app.

``--json`` shapes: ``users list --json`` → ``[{"user_id", "name", "role", "created_at",
"disabled"}]``; ``users add --json`` and ``users set --json`` → one such object;
``users purge-attempts --json`` → ``{"deleted", "older_than_days"}``.
"""

from __future__ import annotations

import sys
from datetime import timedelta

import click
from rich.console import Console
from rich.table import Table

from copyseal.cli._common import App, emit, json_option, pass_app
from copyseal.review.users import (
    ATTEMPT_RETENTION,
    ROLES,
    UserRecord,
    add_user,
    list_users,
    purge_attempts,
    update_user,
)

__all__ = ["users"]


def _table(records: list[UserRecord]) -> Table:
    table = Table(title=f"{len(records)} user(s)")
    for column in ("name", "role", "created (UTC)", "disabled"):
        table.add_column(column)
    for r in records:
        table.add_row(
            r.name,
            r.role,
            r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            "yes" if r.disabled_at else "",
        )
    return table


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return value


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def users(ctx: click.Context, as_json: bool) -> None:
    """List the review app's accounts (and manage them with sub-commands)."""
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(App)
    assert app is not None
    _list(app, as_json)


def _list(app: App, as_json: bool) -> None:
    records = list_users(app.workspace())
    emit(
        app,
        [r.to_json() for r in records],
        as_json=as_json,
        human=lambda c: c.print(_table(records)),
    )


@users.command(name="list")
@json_option
@pass_app
def users_list(app: App, as_json: bool) -> None:
    """List accounts."""
    _list(app, as_json)


@users.command(name="add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (else: prompt).",
)
@json_option
@pass_app
def users_add(app: App, name: str, role: str, password_stdin: bool, as_json: bool) -> None:
    """Create an account; the password comes from a prompt or standard input, never a flag.

    Roles: viewer (reads), reviewer (decides), legal (cases and exports), admin (all,
    and manages users).
    """
    password = _read_password(password_stdin)
    record = add_user(app.workspace(), name=name, role=role, password=password)

    def human(console: Console) -> None:
        console.print(f"added {record.name} ({record.role})")

    emit(app, record.to_json(), as_json=as_json, human=human)


@users.command(name="set")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), help="A new role.")
@click.option("--disable/--enable", "disabled", default=None, help="Disable or enable.")
@json_option
@pass_app
def users_set(app: App, name: str, role: str | None, disabled: bool | None, as_json: bool) -> None:
    """Change an account's role, or disable it (its sessions end) or enable it."""
    record = update_user(app.workspace(), name, role=role, disabled=disabled)
    emit(
        app,
        record.to_json(),
        as_json=as_json,
        human=lambda c: c.print(
            f"{record.name}: {record.role}" + (" (disabled)" if record.disabled_at else "")
        ),
    )


@users.command(name="purge-attempts")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=1),
    default=ATTEMPT_RETENTION.days,
    show_default=True,
    metavar="DAYS",
    help="Delete login attempts older than this many days.",
)
@json_option
@pass_app
def users_purge_attempts(app: App, days: int, as_json: bool) -> None:
    """Delete old login attempts (kept for throttling and as an audit trail).

    The review app also deletes attempts older than 30 days whenever someone logs in.
    """
    deleted = purge_attempts(app.workspace(), older_than=timedelta(days=days))
    emit(
        app,
        {"deleted": deleted, "older_than_days": days},
        as_json=as_json,
        human=lambda c: c.print(f"deleted {deleted} login attempt(s) older than {days} day(s)"),
    )
