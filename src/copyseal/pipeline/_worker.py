"""``copyseal worker``: one of many processes, on one or many machines, that crawl,
match, capture and seal the distributed jobs of one database, one Redis and one
evidence store.

The loop (:meth:`Worker.run`): mark finished jobs finished; crawl a job that has pages
waiting (in Redis, or lost and pushed again) or needs its seeds, in a child process
(:mod:`copyseal.pipeline._session_child`, a fresh interpreter: a Twisted reactor starts
once per process); capture and seal the pages with matches that it can claim
(:mod:`copyseal.pipeline._claims`), also while its crawl session runs (a look every
``poll`` seconds); sleep when there is nothing to do. A heartbeat thread
keeps this worker's leases and claims alive. The child dies with its worker
(``PR_SET_PDEATHSIG``), so ``kill -9`` of the worker stops both, and the others take
its pages and claims once its heartbeat is older than ``distributed.lease_seconds``.

SIGINT or SIGTERM stops cleanly: the crawl session stops (Scrapy's graceful stop), the
seal in progress completes, leases and claims are released at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.process import BaseProcess
from types import FrameType

from sqlalchemy.exc import SQLAlchemyError

from copyseal.crawl.distributed import (
    Frontier,
    connect_redis,
    new_worker_id,
    queue_key,
    redact_url,
)
from copyseal.licences import settle_job
from copyseal.pipeline._claims import SealClaim, SealClaims
from copyseal.pipeline._policy import seals_after_crawl
from copyseal.pipeline._process import ChildLaunch
from copyseal.pipeline._session_child import session_in_child
from copyseal.workspace import Workspace

__all__ = ["Worker"]

log = logging.getLogger(__name__)


def _say(message: str) -> None:
    """One line on stderr (the worker's voice: what it cannot reach, what it does)."""
    sys.stderr.write(f"worker: {message}\n")
    sys.stderr.flush()


def _one_line(e: BaseException) -> str:
    text = str(getattr(e, "orig", None) or e).strip().splitlines()
    return f"{e.__class__.__name__}: {text[0] if text else ''}".strip()


class Worker:
    """A ``copyseal worker`` process.

    Args:
        ws: The workspace (PostgreSQL for several machines; SQLite works on one).
        launch: How crawl sessions (child processes) open the same workspace.
        concurrency: Requests at once in a crawl session (default: ``crawl.concurrency``).
        exit_when_idle: Exit after this many seconds with nothing to do (None: never);
            time when the database or Redis cannot be reached does not count.
        poll: Seconds between looks for work when idle.
        on_event: Called with each line the worker says (default: stderr).
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        launch: ChildLaunch,
        concurrency: int | None = None,
        exit_when_idle: float | None = None,
        poll: float = 1.0,
        on_event: Callable[[str], None] = _say,
    ) -> None:
        self.ws = ws
        self.launch = launch
        self.concurrency = concurrency
        self.exit_when_idle = exit_when_idle
        self.poll = poll
        self.say = on_event
        d = ws.settings.distributed
        self.worker_id = new_worker_id()
        self.frontier = Frontier(
            engine=ws.engine,
            worker_id=self.worker_id,
            lease_seconds=d.lease_seconds,
            max_attempts=d.max_attempts,
        )
        self.claims = SealClaims(
            engine=ws.engine,
            worker_id=self.worker_id,
            lease_seconds=d.lease_seconds,
            max_attempts=d.max_attempts,
        )
        self.redis = connect_redis(d.redis_url)
        self._redis_name = f"redis at {redact_url(d.redis_url)}"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._child: BaseProcess | None = None
        self._activity = "idle"
        self._down: dict[str, str] = {}

    # -- stopping ------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop after the current step (a crawl session is asked to stop gracefully)."""
        self._stop.set()
        with self._lock:
            child = self._child
        if child is not None and child.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGINT)

    @contextlib.contextmanager
    def stop_on_signals(self) -> Iterator[Worker]:
        """SIGINT and SIGTERM stop the worker cleanly (main thread only)."""

        def handler(signum: int, _frame: FrameType | None) -> None:
            self.say(f"{signal.Signals(signum).name}: stopping")
            self.stop()

        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for s, old in previous.items():
                signal.signal(s, old)

    # -- reachability --------------------------------------------------------------------

    def _unreachable(self, what: str, e: BaseException) -> None:
        """Say once per outage that ``what`` cannot be reached."""
        line = _one_line(e)
        if self._down.get(what) != line:
            self._down[what] = line
            self.say(f"cannot reach {what} ({line}); retrying")

    def _reachable(self, what: str) -> None:
        if self._down.pop(what, None) is not None:
            self.say(f"{what} answers again")

    # -- heartbeat -----------------------------------------------------------------------

    def _heartbeat(self) -> None:
        every = self.ws.settings.distributed.lease_seconds / 3
        while not self._stop.wait(every):
            try:
                self.frontier.beat(self._activity)
            except SQLAlchemyError as e:
                self._unreachable("the database", e)

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> None:
        """Work until stopped (or idle for ``exit_when_idle`` seconds)."""
        while not self._stop.is_set():
            try:
                self.frontier.register()
                self._reachable("the database")
                break
            except SQLAlchemyError as e:
                self._unreachable("the database", e)
                self._stop.wait(min(5.0, self.poll * 2))
        self.say(f"{self.worker_id} started")
        beat = threading.Thread(target=self._heartbeat, name="copyseal-heartbeat", daemon=True)
        beat.start()
        idle_since = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    busy = self._step()
                    self._reachable("the database")
                except SQLAlchemyError as e:
                    self._unreachable("the database", e)
                    busy = False
                # Time the database or Redis cannot be reached is not idle: jobs may be
                # waiting behind the outage (it is said once, and retried).
                if busy or self._down:
                    idle_since = time.monotonic()
                if busy:
                    continue
                if (
                    self.exit_when_idle is not None
                    and time.monotonic() - idle_since >= self.exit_when_idle
                ):
                    self.say(f"idle for {self.exit_when_idle:g} s: exiting")
                    break
                self._stop.wait(self.poll)
        finally:
            self._stop.set()
            with contextlib.suppress(SQLAlchemyError):
                self.claims.release_all()
                self.frontier.stopped()

    def _step(self) -> bool:
        """One round: crawl one job's pages, or seal claimed pages; True if it did work."""
        crawled = self._crawl_step()
        sealed = 0 if self._stop.is_set() else self._seal_step()
        return crawled or sealed > 0

    def _crawl_step(self) -> bool:
        try:
            self.redis.ping()
            self._reachable(self._redis_name)
        except Exception as e:  # redis.RedisError, OSError: the one-line message says which
            self._unreachable(self._redis_name, e)
            return False
        for job in self.frontier.jobs_with_work():
            if self._stop.is_set():
                return False
            if self._finish(job.job_id):
                return True
            seed = job.unseeded and self.frontier.claim_seeding(job.job_id)
            if job.unseeded and not seed:
                continue  # another worker is seeding it
            try:
                waiting = int(self.redis.zcard(queue_key(job.job_id)))
                waiting = waiting or self.frontier.requeue_lost(self.redis, job.job_id)
            except Exception as e:  # Redis went away between the ping and here
                self._unreachable(self._redis_name, e)
                return False
            if not (seed or waiting):
                continue
            self._session(job.job_id, seed=seed)
            self._finish(job.job_id)
            return True
        return False

    def _finish(self, job_id: str) -> bool:
        """Mark the job finished if it is (one worker does), and settle its licences."""
        if not self.frontier.finish(job_id):
            return False
        settle_job(self.ws, job_id)
        with contextlib.suppress(Exception):
            from copyseal.crawl.distributed import dupefilter_key

            self.redis.delete(queue_key(job_id), dupefilter_key(job_id))
        self.say(f"crawl {job_id} finished")
        return True

    def _session(self, job_id: str, *, seed: bool) -> None:
        """Crawl pages of ``job_id`` in a child process until it is done or idle."""
        self._activity = f"crawl {job_id}"
        ctx = multiprocessing.get_context("spawn")
        # How long a session waits, idle, for pages other workers hold to add links: a new
        # session costs a process start (~2 s of CPU measured here), so not too short.
        idle = max(5.0, self.ws.settings.distributed.lease_seconds / 3)
        process = ctx.Process(
            target=session_in_child,
            args=(
                None if self.launch.config_path is None else str(self.launch.config_path),
                tuple(self.launch.overrides),
                self.launch.debug,
                job_id,
                self.worker_id,
                seed,
                idle,
                self.concurrency,
                os.getpid(),
            ),
            name=f"copyseal-worker-{job_id}",
        )
        with self._lock:
            if self._stop.is_set():
                return
            process.start()
            self._child = process
        try:
            self._join_sealing(process, job_id)
        finally:
            with self._lock:
                self._child = None
            code = process.exitcode
            process.close()
            self.frontier.release_all()
            self._activity = "idle"
        if code != 0:
            if seed:
                self.frontier.seeding_failed(job_id)
            self.say(f"crawl {job_id}: session ended with code {code}")

    def _join_sealing(self, process: BaseProcess, job_id: str) -> None:
        """Wait for the crawl session, sealing the pages this worker can claim meanwhile
        (a look every ``poll`` seconds): a session lasts until its job is finished or
        idle, and a page with matches is captured while the crawl goes on, not after."""
        sealing = True
        while True:
            process.join(self.poll)
            if process.exitcode is not None or self._stop.is_set():
                process.join()
                return
            if not sealing:
                continue
            try:
                self._seal_step()
                self._reachable("the database")
            except SQLAlchemyError as e:
                self._unreachable("the database", e)
            except Exception as e:  # e.g. no browser: tried again, loudly, after the session
                log.exception("sealing during crawl %s failed", job_id)
                self.say(f"crawl {job_id}: sealing failed ({_one_line(e)}); sealing after it")
                sealing = False
                with contextlib.suppress(SQLAlchemyError):
                    self.claims.release_all()  # its claims are free again, not held

    # -- sealing -------------------------------------------------------------------------

    def _seal_step(self) -> int:
        self.claims.sync(capture=seals_after_crawl(self.ws.settings))
        claim = self.claims.claim()
        if claim is None:
            return 0
        before = self._activity
        self._activity = f"seal {claim.job_id}"
        try:
            return asyncio.run(self._seal_claims(claim))
        finally:
            self._activity = before

    async def _seal_claims(self, first: SealClaim) -> int:
        """Seal claimed pages of one job in one browser; returns how many were handled."""
        from copyseal.capture import BrowserSession
        from copyseal.crawl import job_policy
        from copyseal.pipeline._records import reconcile_bundles
        from copyseal.pipeline._seal import _pending, seal_page
        from copyseal.registry import build_matcher

        ws = self.ws
        matcher = build_matcher(ws.engine, ws.settings)
        handled = 0
        reconciled = False
        claim: SealClaim | None = first
        policy = job_policy(ws, first.job_id)
        async with BrowserSession.from_settings(ws.settings, policy=policy) as session:
            while claim is not None:
                # A page sealed on disk by a worker killed before recording it (or whose
                # recording failed) is recorded now, so it is not captured twice. The scan
                # lists every bundle folder and every recorded bundle id, so it runs once
                # per pass (publishing what killed writers left staged) and again only for
                # a claim taken before: a first claim's page has no earlier sealer. A
                # claim taken before also publishes the bundle its earlier sealer left
                # staged after the ledger logged it, however recent (a lease, 30 s by
                # default, ends before a staging folder counts as abandoned, 60 s):
                # sealing the page again would give it a second bundle and ledger entry.
                if not reconciled or claim.attempt > 1:
                    taken = (claim.job_id, claim.page_url) if claim.attempt > 1 else None
                    await asyncio.to_thread(reconcile_bundles, ws, page=taken)
                    reconciled = True
                found = (await asyncio.to_thread(_pending, ws, claim.job_id)).get(claim.page_url)
                if not found:
                    self.claims.done(claim)
                else:
                    try:
                        outcome = await seal_page(
                            ws,
                            url=claim.page_url,
                            found=found,
                            session=session,
                            job_id=claim.job_id,
                            matcher=matcher,
                        )
                    except Exception as e:  # one page's bug must not stop the worker
                        log.exception("sealing %s failed", claim.page_url)
                        self.claims.failed(claim, _one_line(e))
                    else:
                        if outcome.bundle is not None:
                            self.claims.done(claim)
                        else:
                            self.claims.failed(claim, outcome.error or "not sealed")
                handled += 1
                if self._stop.is_set():
                    break
                claim = self.claims.claim(job_id=first.job_id)
        return handled
