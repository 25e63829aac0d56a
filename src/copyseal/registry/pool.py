"""Matching on every core: a pool of worker processes, each holding the matcher once.

OpenCV releases the GIL, but the Python around it (candidate ranking, NumPy glue,
decoding) does not: one process matched ~30 images/s whatever its thread count
(``benchmarks/crawl.py``), so a crawl's matching runs in ``workers`` processes instead.

* Workers are started with the ``spawn`` method (a fork of a process running Twisted,
  Scrapy, SQLAlchemy pools and OpenMP threads is unsafe: CPython's ``multiprocessing``
  docs and OpenMP's fork caveats), build the matcher through the seam's factory once
  (the retrieval index is read from the workspace's cache, written by the parent first)
  and set OpenCV and FAISS to one thread each: parallelism is one image per core.
* Each worker takes one image at a time from a parent-side feeder thread of its own, so
  the pool always knows which image a worker holds. A worker that dies (a decoder crash
  on a poisoned image, the OOM killer) or exceeds ``timeout`` is replaced, and that image
  alone gets the outcome ``("matcher-crashed" | "matcher-timeout", detail)``: it is
  recorded as failed and never retried.
* :meth:`MatchPool.submit` returns a ``concurrent.futures.Future`` at once (an asyncio
  caller awaits it through ``asyncio.wrap_future``; the event loop never blocks). The
  caller bounds how many images are in flight.

* A worker that cannot start because the database is unreachable (a restart, a network
  cut: SQLAlchemy's ``OperationalError``/``InterfaceError``, a refused connection) is
  started again after 1 s, then 2, 4, ... up to ``RETRY_MAX``, while the image it was
  given waits: those images are matched once the database is back, not lost. After
  ``timeout`` seconds of one such outage, images fail at once (``"matcher-error"``) but
  for one start attempt every ``RETRY_MAX`` seconds. Any other start failure (a broken
  factory, a corrupt index) is final for the slot: every image it is given fails at once.
  An image whose matching met an unreachable database (the matcher reads it per image)
  is sent again the same way, for at most ``timeout`` seconds.

An outcome is the list of the matches' JSON (``to_json()``), or ``(code, detail)`` when the
image could not be matched; ``code`` is ``"unusable"`` for bytes the matcher refused (a
:class:`~copyseal.errors.CopysealError`, ``detail`` its message), ``"matcher-error"`` for a
bug in the matcher, or one of the two above.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing.connection import Connection
from typing import Any

from copyseal.config import Settings
from copyseal.db.session import unreachable
from copyseal.errors import CopysealError

__all__ = ["MatchPool", "Outcome", "default_workers"]

log = logging.getLogger(__name__)

#: The matches' JSON, or ``(code, detail)`` when the image could not be matched.
Outcome = list[dict[str, Any]] | tuple[str, str]

#: A worker still starting after this long is treated as crashed (loading a 10^4-work
#: index from the cache took ~2 s on the 2-core development machine).
START_TIMEOUT = 300.0


#: Seconds one image may take (and wait for an unreachable database) by default.
TIMEOUT = 120.0

#: How a start failure's reason begins when the database could not be reached.
_UNREACHABLE = "database unreachable: "

#: Longest wait (seconds) between two starts of a worker that could not reach the database.
RETRY_MAX = 30.0


def _first_line(e: BaseException) -> str:
    """The first line of ``e``'s message (SQLAlchemy's add the statement and a link)."""
    text = str(e)
    return text.splitlines()[0] if text else ""


def default_workers(setting: int | None) -> int:
    """``match.workers`` resolved: None is one process per core."""
    if setting is None:
        return max(1, os.cpu_count() or 1)
    return setting


def _load(factory: str | Callable[..., Any]) -> Callable[..., Any]:
    if callable(factory):
        return factory
    module, _, name = factory.rpartition(".")
    obj = getattr(importlib.import_module(module), name)
    if not callable(obj):
        raise TypeError(f"{factory} is not callable")
    return obj  # type: ignore[no-any-return]


def _worker(conn: Connection, factory: str | Callable[..., Any], settings: Settings) -> None:
    """A worker process: build the matcher, then match each image sent until ``None``."""
    import signal

    # Ctrl-C reaches the whole process group: the crawl process stops its workers (it
    # closes their pipes), so a worker must not die first and have its image recorded
    # as a crash. A parent that is killed outright closes the pipe too (EOF below).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import cv2

    cv2.setNumThreads(1)
    try:
        import faiss

        faiss.omp_set_num_threads(1)
    except ImportError:  # pragma: no cover - FAISS is a dependency
        pass
    from copyseal.db.session import create_engine

    try:
        engine = create_engine(settings.database.url)
        matcher = _load(factory)(engine, settings)
    except Exception as e:
        kind = "unreachable" if unreachable(e) else "failed"
        conn.send((kind, f"{e.__class__.__name__}: {_first_line(e)}"))
        return
    conn.send(("ready", ""))
    while True:
        try:
            data = conn.recv()
        except EOFError:
            return
        if data is None:
            return
        try:
            conn.send(("ok", [m.to_json() for m in matcher.match(data)]))
        except CopysealError as e:
            conn.send(("unusable", str(e)))
        except Exception as e:  # a matcher bug must not end the worker; it is reported
            if unreachable(e):  # not the image's fault: the parent sends it again
                conn.send(("unreachable", f"{e.__class__.__name__}: {_first_line(e)}"))
            else:
                conn.send(("matcher-error", f"matcher failed: {e.__class__.__name__}: {e}"))


class _Slot:
    """One worker process and the parent thread that feeds it one image at a time."""

    def __init__(self, pool: MatchPool, n: int) -> None:
        self.pool = pool
        self.n = n
        self.proc: Any = None
        self.conn: Connection | None = None
        #: Why the worker could not start (then every image it is given fails at once:
        #: a matcher that cannot be built is not retried per image) ...
        self.broken: str | None = None
        #: ... unless the database was unreachable: then it is started again (``_retry``).
        self.unreachable = False
        self._down_since = 0.0  # monotonic time the current outage began
        self._next_try = 0.0  # monotonic time of the next start
        self._delay = 1.0  # seconds before the start after the next failed one
        self.thread = threading.Thread(target=self._run, name=f"copyseal-match-{n}", daemon=True)
        self.thread.start()

    def _started(self, reason: str | None) -> None:
        """Record how a start went (``reason``: why it failed, None when ready)."""
        was_down = self.broken is not None and self.unreachable
        self.broken = reason
        self.unreachable = reason is not None and reason.startswith(_UNREACHABLE)
        now = time.monotonic()
        if reason is None or not self.unreachable:
            self._delay = 1.0
            if reason is not None:
                log.error("match worker %d could not start: %s", self.n, reason)
            elif was_down:
                log.warning("match worker %d started: the database is reachable again", self.n)
            return
        if not was_down:
            self._down_since = now
        self._next_try = now + self._delay
        log.warning(
            "match worker %d cannot reach the database (%s); starting it again in %.0f s",
            self.n,
            reason[len(_UNREACHABLE) :],
            self._delay,
        )
        self._delay = min(2 * self._delay, RETRY_MAX)

    def _retry(self) -> None:
        """While the database is unreachable, start the worker again when its time comes,
        the image in hand waiting, for at most ``timeout`` seconds of the outage; after
        that, one start per ``RETRY_MAX`` seconds and no waiting."""
        while self.broken is not None and self.unreachable:
            now = time.monotonic()
            if now >= self._next_try:
                self._started(self._start())
                continue
            waited_enough = self._down_since + self.pool.timeout
            if now >= waited_enough:
                return
            time.sleep(min(self._next_try, waited_enough) - now)

    def _start(self) -> str | None:
        """Start the process; None when ready, else why it could not start (prefixed with
        ``_UNREACHABLE`` when the database could not be reached)."""
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=_worker,
            args=(child, self.pool.factory, self.pool.settings),
            name=f"copyseal-match-{self.n}",
            daemon=True,
        )
        proc.start()
        child.close()
        self.proc, self.conn = proc, parent
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if parent.poll(0.2):
                try:
                    kind, detail = parent.recv()
                except EOFError:
                    break
                if kind == "ready":
                    return None
                self._stop()
                return (_UNREACHABLE if kind == "unreachable" else "") + str(detail)
            if not proc.is_alive():
                break
        self._stop()
        return "the worker process exited while starting"

    def _stop(self) -> None:
        if self.proc is not None:
            if self.proc.is_alive():
                self.proc.kill()
            self.proc.join(5)
        if self.conn is not None:
            self.conn.close()
        self.proc = self.conn = None

    def _run(self) -> None:
        self._started(self._start())  # at once: start-up overlaps the crawl's first fetches
        while True:
            job = self.pool._jobs.get()
            if job is None:
                break
            data, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self._match(data))
            except Exception as e:  # the feeder thread must survive anything
                log.exception("match worker %d", self.n)
                future.set_result(("matcher-error", f"match worker failed: {e}"))
        if self.conn is not None and self.proc is not None and self.proc.is_alive():
            try:
                self.conn.send(None)
                self.proc.join(10)
            except OSError:
                pass
        self._stop()

    def _match(self, data: bytes) -> Outcome:
        if self.broken is None and (self.proc is None or not self.proc.is_alive()):
            self._stop()
            self._started(self._start())
        self._retry()
        if self.broken is not None:
            reason = self.broken.removeprefix(_UNREACHABLE)
            return "matcher-error", f"match worker could not start: {reason}"
        assert self.conn is not None and self.proc is not None
        try:
            self.conn.send(data)
        except OSError:
            self._stop()
            return "matcher-crashed", "match worker died before the image was sent"
        deadline = give_up = time.monotonic() + self.pool.timeout
        delay = 1.0
        while True:
            try:
                if self.conn.poll(0.2):
                    kind, payload = self.conn.recv()
                    if kind == "ok":
                        return list(payload)
                    if kind != "unreachable":
                        return str(kind), str(payload)
                    if time.monotonic() + delay > give_up:
                        return "matcher-error", f"the database was unreachable: {payload}"
                    # The matcher reads the database per image (exact copies, fingerprints):
                    # the same image again once it may be back.
                    log.warning(
                        "match worker %d cannot reach the database (%s); the image is "
                        "matched again in %.0f s",
                        self.n,
                        payload,
                        delay,
                    )
                    time.sleep(delay)
                    delay = min(2 * delay, RETRY_MAX)
                    self.conn.send(data)
                    deadline = time.monotonic() + self.pool.timeout
            except (EOFError, OSError):
                pass  # the worker died mid-image: handled below
            if not self.proc.is_alive():
                code = self.proc.exitcode
                self._stop()
                self.pool.crashes += 1
                log.warning("match worker %d died (exit code %s) on an image", self.n, code)
                return "matcher-crashed", f"the match worker died on this image (exit code {code})"
            if time.monotonic() > deadline:
                self._stop()
                self.pool.crashes += 1
                return "matcher-timeout", f"matching took over {self.pool.timeout:.0f} s"


class MatchPool:
    """``workers`` matcher processes built by ``factory(engine, settings)``.

    Args:
        factory: The matcher factory (``"module.name"`` or a module-level function), as
            the seam's :class:`~copyseal.registry.MatcherFactory`.
        settings: The workspace settings (each worker opens ``database.url``).
        workers: Number of processes (at least 1).
        timeout: Seconds one image may take before its worker is replaced.
    """

    def __init__(
        self,
        *,
        factory: str | Callable[..., Any],
        settings: Settings,
        workers: int,
        timeout: float = TIMEOUT,
    ) -> None:
        if workers < 1:
            raise ValueError(f"a match pool needs at least one worker (got {workers})")
        self.factory = factory
        self.settings = settings
        self.timeout = timeout
        self.crashes = 0
        self._jobs: queue.SimpleQueue[tuple[bytes, Future[Outcome]] | None] = queue.SimpleQueue()
        self._closed = False
        self._slots = [_Slot(self, n) for n in range(workers)]

    @property
    def workers(self) -> int:
        return len(self._slots)

    def submit(self, data: bytes) -> Future[Outcome]:
        """Queue ``data`` for matching; the future's result is its :data:`Outcome`."""
        if self._closed:
            raise RuntimeError("the match pool is closed")
        future: Future[Outcome] = Future()
        self._jobs.put((data, future))
        return future

    def close(self) -> None:
        """Finish the queued images, then stop every worker."""
        if self._closed:
            return
        self._closed = True
        for _ in self._slots:
            self._jobs.put(None)
        for slot in self._slots:
            slot.thread.join()

    def __enter__(self) -> MatchPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
