"""Scheduled crawls run through the pipeline: the scheduler, its runner and its stop.

:class:`ScheduledCrawls` puts together the :class:`~copyseal.crawl.Scheduler` (claiming
each due run once, catch-up, take-over), the pipeline's :class:`ProcessJobRunner` (each
job crawled and sealed in a child process) and its re-visit policy
(:func:`~copyseal.pipeline._policy.revisit_pages`). ``copyseal scheduler`` is a thin face
over it, and so can be a service manager's unit or a worker.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from types import FrameType
from typing import Any

from copyseal.crawl import RunRecord, Scheduler
from copyseal.pipeline._policy import revisit_pages
from copyseal.pipeline._process import ChildLaunch, ProcessJobRunner
from copyseal.workspace import Workspace

__all__ = ["ScheduledCrawls"]


class ScheduledCrawls:
    """Runs the due scheduled crawls of a workspace, each job in a child process.

    Args:
        workspace: The workspace (its settings and database targets hold the schedules).
        launch: How a job's child process opens the same workspace.
        on_run: Called with each run's record when it ends or is released.
        clock: The current time (UTC); tests pass a fixed one.
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        launch: ChildLaunch,
        on_run: Callable[[RunRecord], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.stop = threading.Event()
        self.runner = ProcessJobRunner(workspace, launch=launch)
        extra: dict[str, Any] = {} if clock is None else {"clock": clock}
        self.scheduler = Scheduler(
            workspace,
            runner=self.runner,
            stop=self.stop,
            on_run=on_run,
            revisit=partial(revisit_pages, workspace),
            **extra,
        )

    def request_stop(self) -> None:
        """Stop: no new run starts, and the crawl in progress stops gracefully (it is
        released and resumed by the next scheduler). Called again, it forces the crawl."""
        self.stop.set()
        self.runner.interrupt()

    def run(self, *, once: bool = False, poll: float = 30.0) -> list[RunRecord]:
        """Run what is due now and return those runs (``once``), or keep running what
        comes due, checking every ``poll`` seconds, until stopped; runs are then only
        reported through ``on_run`` (a long life keeps none in memory) and ``[]`` is
        returned."""
        if once:
            return self.scheduler.tick()
        while not self.stop.is_set():
            self.scheduler.tick()
            self.stop.wait(poll)
        return []

    @contextmanager
    def stop_on_signals(
        self, on_signal: Callable[[signal.Signals, bool], None] | None = None
    ) -> Iterator[None]:
        """Within the block, SIGINT and SIGTERM call :meth:`request_stop` (the first
        stops gracefully, a second forces the crawl); ``on_signal`` is told the signal
        and whether it is the first. The previous handlers are restored at the end.
        Must be used in the main thread (Python runs signal handlers there only)."""

        def handler(signum: int, _frame: FrameType | None) -> None:
            first = not self.stop.is_set()
            if on_signal is not None:
                on_signal(signal.Signals(signum), first)
            self.request_stop()

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)
