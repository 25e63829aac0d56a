"""``copyseal worker``: crawl, match, capture and seal distributed jobs until stopped."""

from __future__ import annotations

import signal
import threading
from types import FrameType
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
    help="Exit after SECONDS with nothing to do (default: run until stopped); time when"
    " the database or Redis cannot be reached is not idle.",
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
    ws = _open_workspace(app)
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


def _open_workspace(app: App) -> Workspace | None:
    """The workspace, once its database answers: a worker started before PostgreSQL (or
    while it restarts) says so in one line and retries until the database answers or it
    is stopped (None). The wait is never counted as idle time (``--exit-when-idle``):
    jobs may be waiting in the database it cannot reach."""
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        click.echo(f"worker: {signal.Signals(signum).name}: stopping", err=True)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    said = None
    try:
        while not stop.is_set():
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
            stop.wait(2.0)
        return None
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
