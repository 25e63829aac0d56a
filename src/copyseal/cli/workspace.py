"""``copyseal init`` and ``copyseal db``: create a workspace, manage its database."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from copyseal._modes import make_private
from copyseal.cli._common import App, emit, json_option, pass_app, stderr_console
from copyseal.config import load_settings
from copyseal.db import session as db
from copyseal.errors import CopysealError, WorkspaceError
from copyseal.keys import public_key_path
from copyseal.storage import open_store
from copyseal.workspace import init_workspace


@click.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False))
@json_option
@pass_app
def init(app: App, directory: Path | None, as_json: bool) -> None:
    """Create a workspace in DIRECTORY (config.yaml, evidence/, keys/, database).

    Without DIRECTORY, initialise the workspace that --config describes (the repository's
    config.yaml is the demo workspace). Never overwrites an existing workspace.
    """
    config = directory / "config.yaml" if directory else app.config_path
    try:
        settings = init_workspace(directory, config=None if directory else app.config_path)
    except WorkspaceError:
        _repair_modes(config)  # an existing workspace: never overwritten, but made private
        raise
    data = {
        "config": str(settings.source),
        "evidence_dir": str(settings.workspace.evidence_dir),
        "evidence_store": open_store(settings.workspace.evidence_dir).url,
        "signing_key": str(settings.workspace.signing_key),
        "public_key": str(public_key_path(settings.workspace.signing_key)),
        "database": db.redact(settings.database.url),
    }

    def human(console: Console) -> None:
        console.print(f"[bold]workspace created[/bold]: {settings.base_dir}")
        for key, value in data.items():
            console.print(f"  {key:14} {value}")
        console.print(f"next: copyseal --config {settings.source} register PATH...")

    emit(app, data, as_json=as_json, human=human)


def _repair_modes(config: Path | None) -> None:
    """Make an existing workspace's files private and say which (on stderr)."""
    if config is None or not config.is_file():
        return
    try:
        changed = make_private(load_settings(config))
    except CopysealError:
        return  # the error about the existing workspace follows; this one adds nothing
    console = stderr_console()
    for path in changed:
        console.print(f"made {path} readable by its owner only (older workspace)")


@click.group(name="db")
def db_group() -> None:
    """Inspect and migrate the workspace database."""


@db_group.command(name="status")
@json_option
@pass_app
def db_status(app: App, as_json: bool) -> None:
    """Show the database URL and its migration revision."""
    settings = app.settings()
    engine = db.create_engine(settings.database.url)
    try:
        current = db.current_revision(engine)
    finally:
        engine.dispose()
    data = {
        "url": db.redact(settings.database.url),
        "revision": current,
        "head": db.head_revision(),
    }
    emit(
        app,
        data,
        as_json=as_json,
        human=lambda c: c.print(
            f"{data['url']}: revision {current} (newest {data['head']})"
            + ("" if current == data["head"] else " - run 'copyseal db upgrade'")
        ),
    )


@db_group.command(name="upgrade")
@json_option
@pass_app
def db_upgrade(app: App, as_json: bool) -> None:
    """Apply pending migrations, and make the workspace's files readable by their owner
    only (older copyseal versions created them readable by everyone)."""
    settings = app.settings()
    engine = db.create_engine(settings.database.url)
    try:
        before = db.current_revision(engine)
        db.upgrade(engine)
        after = db.current_revision(engine)
    finally:
        engine.dispose()
    private = [str(p) for p in make_private(settings)]
    data = {
        "url": db.redact(settings.database.url),
        "from": before,
        "to": after,
        "made_private": private,
    }

    def human(console: Console) -> None:
        console.print(f"{data['url']}: {before} -> {after}")
        for path in private:
            console.print(f"made {path} readable by its owner only")

    emit(app, data, as_json=as_json, human=human)
