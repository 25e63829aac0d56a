"""``copyseal register`` and ``copyseal works``.

``works anchor-proof --json`` (a public contract): ``{"work_id", "index", "receipt",
"anchor_proof", "size", "anchored": [{"size", "anchors": ["KIND:NAME", ...]}]}``
(``receipt`` and ``anchor_proof``: the files written; ``size``: the receipt's checkpoint).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from copyseal.cli._common import App, emit, json_option, pass_app, stderr_console
from copyseal.registry import (
    RegistrationFailure,
    WorkRecord,
    iter_image_files,
    list_works,
    register_paths,
    remove_work,
)


def _works_table(records: list[WorkRecord], title: str) -> Table:
    table = Table(title=title)
    table.add_column("work id", no_wrap=True)
    for column in ("title", "owner", "size", "pixels", "format", "registered (UTC)"):
        table.add_column(column)
    for r in records:
        table.add_row(
            r.work_id,
            r.title or "",
            r.owner or "",
            f"{r.size:,}",
            f"{r.width}x{r.height}",
            r.format,
            r.registered_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    return table


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--owner", help="The rights holder (stored with each work).")
@click.option("--title", help="Title of the work (default: the file name).")
@click.option("--licence", help="Licence terms or identifier (e.g. 'all rights reserved').")
@json_option
@pass_app
def register(
    app: App,
    paths: tuple[Path, ...],
    owner: str | None,
    title: str | None,
    licence: str | None,
    as_json: bool,
) -> None:
    """Register image files and folders (recursively) as works.

    Idempotent: the same bytes give the same work id. A file that cannot be read as an
    image is reported with its reason and the rest goes on; the exit code is 1 when any failed.
    """
    ws = app.workspace()
    files = list(iter_image_files(paths))
    results: list[WorkRecord | RegistrationFailure] = []
    with Progress(
        TextColumn("registering"),
        BarColumn(),
        MofNCompleteColumn(),
        console=stderr_console(),
        transient=True,
    ) as progress:
        task = progress.add_task("register", total=len(files))
        for result in register_paths(ws, files, owner=owner, title=title, licence=licence):
            results.append(result)
            progress.advance(task)
    data: list[dict[str, Any]] = []
    for r in results:
        item = r.to_json()
        if isinstance(r, WorkRecord):
            item = {"path": r.source_path, **item}
        data.append(item)

    def human(console: Console) -> None:
        ok = [r for r in results if isinstance(r, WorkRecord)]
        if ok:
            console.print(_works_table(ok, f"{len(ok)} work(s) registered"))
        for r in results:
            if isinstance(r, RegistrationFailure):
                console.print(f"[red]skipped[/red] {r.path}: {r.error}")

    emit(app, data, as_json=as_json, human=human)
    if any(isinstance(r, RegistrationFailure) for r in results):
        raise click.exceptions.Exit(1)


@click.group(invoke_without_command=True)
@click.option("--all", "include_removed", is_flag=True, help="Include removed works.")
@json_option
@click.pass_context
def works(ctx: click.Context, include_removed: bool, as_json: bool) -> None:
    """List registered works (and manage them with sub-commands)."""
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(App)
    assert app is not None
    records = list_works(app.workspace(), include_removed=include_removed)
    emit(
        app,
        [r.to_json() for r in records],
        as_json=as_json,
        human=lambda c: c.print(_works_table(records, f"{len(records)} registered work(s)")),
    )


@works.command(name="remove")
@click.argument("work_ids", nargs=-1, required=True)
@json_option
@pass_app
def works_remove(app: App, work_ids: tuple[str, ...], as_json: bool) -> None:
    """Withdraw works from matching (their records and history are kept)."""
    removed = [remove_work(app.workspace(), wid) for wid in work_ids]

    def human(console: Console) -> None:
        for r in removed:
            console.print(f"removed {r.work_id} ({r.title})")

    emit(app, [r.to_json() for r in removed], as_json=as_json, human=human)


@works.command(name="anchor-proof")
@click.argument("work_id")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The registration receipt to write (tlog-proof; never overwritten). The anchor"
    " proof goes beside it, as FILE.anchor-proof.json.",
)
@json_option
@pass_app
def works_anchor_proof(app: App, work_id: str, out: Path, as_json: bool) -> None:
    """Write WORK_ID's registration receipt and its anchor proof: a prior-existence proof.

    Check them with 'copyseal verify FILE --vkey KEY --data ORIGINAL --anchor-proof
    FILE.anchor-proof.json'.
    """
    from copyseal.anchors.service import work_proof
    from copyseal.cli._proofs import emit_entry_proof

    receipt, data = work_proof(app.workspace(), work_id)
    emit_entry_proof(app, out, receipt, data, head={"work_id": work_id}, as_json=as_json)
