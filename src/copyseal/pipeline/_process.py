"""Running a crawl job in a child process that the pipeline starts (the scheduler's runner).

Why a child process remains: Scrapy runs on a Twisted reactor, and a reactor can be
started only once per process (a second start raises
``twisted.internet.error.ReactorNotRestartable``, as Scrapy's "Run Scrapy from a script"
documentation states). A scheduler lives for days and runs many crawls, so each crawl
gets a fresh process. :class:`ProcessJobRunner` starts it with multiprocessing's
``spawn`` method (a fresh interpreter: forking a process that holds database
connections, threads and an event loop is unsafe), and the child runs
:func:`_run_job_in_child`, which calls the pipeline's :func:`~copyseal.pipeline.resume`
(crawl, then seal as ``capture.on_match`` says). No command line is re-executed.

**Stopping.** :meth:`ProcessJobRunner.interrupt` sends SIGINT to the child, which Scrapy
takes as a request to stop gracefully (the job stays resumable); a second SIGINT makes it
stop at once. The child runs in its own session (SIGINT and SIGTERM are blocked while it
is started, and it unblocks them once it has left the terminal's process group), so a
Ctrl-C in the terminal reaches the crawl once, through the parent.

**Output.** The child's logs go to the inherited stderr. Its stdout is pointed at stderr
as well: the parent's stdout may carry one JSON document. A failure ends the child with
the error's exit code; its message comes back over a pipe into the
:class:`~copyseal.crawl.RunOutcome`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import traceback
from dataclasses import dataclass
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from sqlalchemy import select

from copyseal.crawl import RunOutcome, crawl_summary
from copyseal.db.schema.crawl import CrawlJob
from copyseal.errors import CopysealError
from copyseal.pipeline._policy import seals_after_crawl
from copyseal.pipeline._seal import has_pending
from copyseal.workspace import Workspace

__all__ = ["ChildLaunch", "ProcessJobRunner"]

_STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})
#: The longest error message passed back from a child (characters).
_MAX_ERROR = 4000


@dataclass(frozen=True, kw_only=True)
class ChildLaunch:
    """How a child process opens the same workspace: the configuration file and the
    command line's ``--set`` overrides (the environment, with any ``COPYSEAL_*``
    settings, is inherited)."""

    config_path: Path | None
    overrides: tuple[str, ...] = ()
    #: Debug logs in the child as well.
    debug: bool = False


class ProcessJobRunner:
    """Runs (or resumes) a crawl job to its end in a child process: a
    :data:`~copyseal.crawl._schedule.JobRunner` for :class:`~copyseal.crawl.Scheduler`.

    Args:
        workspace: The workspace (read for the job's status before and after).
        launch: How the child opens the same workspace.
    """

    def __init__(self, workspace: Workspace, *, launch: ChildLaunch) -> None:
        self.workspace = workspace
        self.launch = launch
        # Re-entrant: interrupt() runs in a signal handler, in the thread that may be
        # inside __call__'s critical section.
        self._lock = threading.RLock()
        self._process: BaseProcess | None = None
        #: Stop requests received, and SIGINTs forwarded to the current child.
        self._stops = 0
        self._forwarded = 0

    @property
    def process(self) -> BaseProcess | None:
        """The child process running a job now, if any."""
        with self._lock:
            return self._process

    def has_work(self, job_id: str) -> bool:
        """Whether job ``job_id`` has anything left to do: pages to crawl, or (as the
        pipeline seals after a crawl) matches to seal."""
        with self.workspace.engine.connect() as conn:
            status = conn.scalar(select(CrawlJob.status).where(CrawlJob.job_id == job_id))
        if status != "finished":
            return True
        return seals_after_crawl(self.workspace.settings) and has_pending(self.workspace, job_id)

    def __call__(self, job_id: str) -> RunOutcome:
        if not self.has_work(job_id):
            return RunOutcome(status="finished")
        ctx = multiprocessing.get_context("spawn")
        receiver, sender = ctx.Pipe(duplex=False)
        process = ctx.Process(
            target=_run_job_in_child,
            args=(
                None if self.launch.config_path is None else str(self.launch.config_path),
                tuple(self.launch.overrides),
                self.launch.debug,
                job_id,
                sender,
            ),
            name=f"copyseal-crawl-{job_id}",
        )
        # The first process a process starts with ``spawn`` also starts multiprocessing's
        # resource tracker, which then unblocks SIGINT and SIGTERM in the calling thread
        # whatever they were (``ResourceTracker.ensure_running``, CPython 3.11: it blocks
        # them around its own start, bpo-33613, and unblocks them after). Inside the mask
        # below that would let the child start with the stop signals unblocked, and a stop
        # forwarded as it starts kill it (SIGINT's default action) before it can stop
        # cleanly. Started first, the tracker is already running when the child starts.
        resource_tracker.ensure_running()
        try:
            with self._lock:
                if self._stops:
                    return RunOutcome(status="stopped")
                # The mask holds stop signals back from this thread only: one delivered
                # to another thread (the heartbeat's) runs its handler here, maybe before
                # the child is known; _forward() below passes such a stop on.
                previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
                try:
                    process.start()
                    self._process = process
                    self._forwarded = 0
                    self._forward()
                finally:
                    signal.pthread_sigmask(signal.SIG_SETMASK, previous)
            sender.close()  # the child holds its own copy
            try:
                process.join()
            finally:
                with self._lock:
                    self._process = None
            error: str | None = None
            with contextlib.suppress(EOFError, OSError):
                if receiver.poll():
                    error = receiver.recv()
            code = process.exitcode
            process.close()
        finally:
            sender.close()
            receiver.close()
        status = crawl_summary(self.workspace, job_id).status
        if code != 0 and error is None:
            error = (
                f"crawl process killed by {signal.Signals(-code).name}"
                if code is not None and code < 0
                else f"crawl process exited with code {code}"
            )
        return RunOutcome(status=status, error=error if code != 0 else None)

    def interrupt(self) -> None:
        """Ask the running crawl to stop gracefully (Scrapy stops on SIGINT; the job is
        resumable, and a second call forces it). No job starts after an interrupt."""
        with self._lock:
            self._stops += 1
            self._forward()

    def _forward(self) -> None:
        """Send the child one SIGINT per stop request it has not had yet (called with the
        lock held): the first stops Scrapy gracefully, a second forces it."""
        process = self._process
        if process is None or process.pid is None:
            return
        while self._forwarded < self._stops:
            self._forwarded += 1
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGINT)


def _run_job_in_child(
    config_path: str | None,
    overrides: tuple[str, ...],
    debug: bool,
    job_id: str,
    report: Connection,
) -> None:
    """The child process's target: open the workspace, resume job ``job_id`` through the
    pipeline, and send back ``None`` or the error's message."""
    with contextlib.suppress(PermissionError):
        os.setsid()  # out of the terminal's process group before stop signals are let in
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    error: str | None = None
    code = 0
    try:
        # SIGINT's handler first: a parent started with SIGINT ignored (a background job of
        # a non-interactive shell: POSIX shells ignore SIGINT and SIGQUIT for asynchronous
        # commands) passes that on through exec, and Python installs its KeyboardInterrupt
        # handler only over the default action; ignored, the stop below would be lost.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        # The parent's mask came through exec: a stop sent while this process started is
        # pending (a blocked signal is kept even while ignored), and is delivered here (a
        # KeyboardInterrupt) before any crawling.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        _resume(Path(config_path) if config_path else None, overrides, debug, job_id)
    except CopysealError as e:
        if debug:
            traceback.print_exc()
        error, code = str(e), e.exit_code
    except KeyboardInterrupt:
        # A stop that came before Scrapy's own handlers (or a forced second one): the job
        # stays resumable, as after a graceful stop, so it is no error.
        pass
    except Exception as e:  # a bug: its traceback goes to the logs, its message home
        traceback.print_exc()
        error, code = f"{e.__class__.__name__}: {e}", 1
    if error is not None:
        sys.stderr.write(f"error: crawl {job_id}: {error}\n")
        sys.stderr.flush()
    try:
        report.send(error[:_MAX_ERROR] if error is not None else None)
    finally:
        report.close()
    if code:
        sys.exit(code)


def _resume(config_path: Path | None, overrides: tuple[str, ...], debug: bool, job_id: str) -> None:
    from copyseal._logging import configure_logging
    from copyseal.config import load_settings
    from copyseal.pipeline._chain import resume

    settings = load_settings(config_path, overrides=overrides)
    log = settings.logging
    configure_logging(
        level=log.level, file=log.file, max_bytes=log.max_bytes, backups=log.backups, debug=debug
    )
    ws = Workspace.open(settings)
    try:
        resume(ws, job_id)
        # A schedule with revisit_matches also records each known use's state now.
        from copyseal.revisit import revisit_scheduled

        revisit_scheduled(ws, job_id)
    finally:
        ws.close()
