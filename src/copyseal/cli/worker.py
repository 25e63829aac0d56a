"""``copyseal worker``: crawl, match, capture and seal distributed jobs until stopped."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from copyseal.cli._common import App, pass_app
from copyseal.errors import StorageError

if TYPE_CHECKING:
    from copyseal.workspace import Workspace


@click.command()
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    help="Requests at once in this worker's crawls (default: crawl.concurrency).",
)
@click.option(
    "--exit-when-idle",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Exit after SECONDS with nothing to do (default: run until stopped).",
)
@click.option(
    "--poll",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between looks for work when idle.",
)
@pass_app
def worker(app: App, concurrency: int | None, exit_when_idle: float | None, poll: float) -> None:
    """Take pages of every distributed crawl (copyseal crawl URL --distributed), match
    their images, and capture and seal the pages with matches, until stopped (SIGINT or
    SIGTERM stop cleanly). Run one or more per machine, all sharing one PostgreSQL
    database, one Redis (distributed.redis_url) and one evidence folder. A worker killed
    at any moment loses nothing: the others take its pages and seals when its heartbeat
    stops (distributed.lease_seconds).
    """
    from copyseal.pipeline import ChildLaunch, Worker

    launch = ChildLaunch(config_path=app.config_path, overrides=app.overrides, debug=app.debug)
    ws = _open_workspace(app, exit_when_idle)
    if ws is None:
        return
    w = Worker(
        ws,
        launch=launch,
        concurrency=concurrency,
        exit_when_idle=exit_when_idle,
        poll=poll,
    )
    with w.stop_on_signals():
        w.run()


def _open_workspace(app: App, exit_when_idle: float | None) -> Workspace | None:
    """The workspace, once its database answers: a worker started before PostgreSQL (or
    while it restarts) says so in one line and retries (None: idle too long)."""
    start = time.monotonic()
    said = None
    while True:
        try:
            ws = app.workspace()
            ws.engine  # noqa: B018 (connects, and migrates when configured to)
            return ws
        except StorageError as e:
            if "cannot connect" not in str(e):
                raise
            if str(e) != said:
                said = str(e)
                click.echo(f"worker: {e}; retrying", err=True)
        if exit_when_idle is not None and time.monotonic() - start >= exit_when_idle:
            click.echo(f"worker: idle for {exit_when_idle:g} s: exiting", err=True)
            return None
        time.sleep(2.0)
