"""``copyseal targets``: every crawl target, from config.yaml and from the database.

Targets kept in the database are added, changed and removed by admins in the review app
(``copyseal serve``) or its API; this command lists them beside the configured ones and
shows their change history. ``--json`` shapes: ``targets list --json`` → ``[{"name",
"source", "editable", "target", "schedule", "version", "created_at", "created_by",
"updated_at", "updated_by"}]``; ``targets history --json`` → ``[{"id", "name", "action",
"actor", "at", "definition"}]``, newest first.
"""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from copyseal.cli._common import App, emit, json_option, pass_app
from copyseal.crawl import list_targets, target_events

__all__ = ["targets"]


@click.group("targets")
def targets() -> None:
    """Crawl targets (config.yaml's, and those admins manage in the review app)."""


@targets.command("list")
@json_option
@pass_app
def targets_list(app: App, as_json: bool) -> None:
    """List every target with its source, start URLs, spider and schedule."""
    infos = list_targets(app.workspace())
    data = [t.to_json() for t in infos]

    def human(console: Console) -> None:
        table = Table(title=f"{len(data)} target(s)")
        for column in ("name", "source", "start URLs", "spider", "schedule (UTC)", "changed"):
            table.add_column(column, overflow="fold")
        for d in data:
            schedule = d["schedule"]
            table.add_row(
                d["name"],
                d["source"],
                "\n".join(d["target"]["urls"]),
                d["target"]["spider"] + (" (render)" if d["target"]["render"] else ""),
                "-"
                if schedule is None
                else schedule["cron"] + ("" if schedule["enabled"] else " (disabled)"),
                f"{d['updated_at'][:19]} by {d['updated_by']}" if d["updated_at"] else "",
            )
        console.print(table)

    emit(app, data, as_json=as_json, human=human)


@targets.command("history")
@click.argument("name", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@json_option
@pass_app
def targets_history(app: App, name: str | None, limit: int, as_json: bool) -> None:
    """Changes to database targets (of NAME, or all), newest first."""
    events = target_events(app.workspace(), name, limit=limit)
    data = [e.to_json() for e in events]

    def human(console: Console) -> None:
        table = Table(title=f"{len(data)} change(s), times in UTC")
        for column in ("when", "target", "what", "who", "start URLs", "schedule"):
            table.add_column(column, overflow="fold")
        for d in data:
            definition = d["definition"]
            table.add_row(
                d["at"][:19],
                d["name"],
                d["action"],
                d["actor"],
                "\n".join(definition["target"]["urls"]),
                definition["schedule"]["cron"] or "-",
            )
        console.print(table)

    emit(app, data, as_json=as_json, human=human)
