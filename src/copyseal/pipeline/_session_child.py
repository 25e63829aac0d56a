"""The process of a worker's crawl session: a fresh interpreter (a Twisted reactor starts
once per process) that opens the worker's settings and crawls one distributed job's
pages (:func:`copyseal.crawl.distributed.run_session`), and dies with its worker."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback
from pathlib import Path

from copyseal.errors import CopysealError

__all__ = ["session_in_child"]

#: ``prctl`` option: the signal a process gets when its parent dies (linux/prctl.h).
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (a worker killed with -9
    takes its crawl session with it)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def session_in_child(
    config_path: str | None,
    overrides: tuple[str, ...],
    debug: bool,
    job_id: str,
    worker_id: str,
    seed: bool,
    idle: float,
    concurrency: int | None,
    parent: int,
) -> None:
    """The crawl session's process: open the settings and crawl ``job_id``'s pages."""
    _die_with_parent(parent)
    with contextlib.suppress(PermissionError):
        os.setsid()  # a terminal's Ctrl-C reaches the worker, which stops this once
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    from copyseal._logging import configure_logging
    from copyseal.config import load_settings
    from copyseal.crawl.distributed import run_session

    try:
        settings = load_settings(Path(config_path) if config_path else None, overrides=overrides)
        lg = settings.logging
        configure_logging(
            level=lg.level, file=lg.file, max_bytes=lg.max_bytes, backups=lg.backups, debug=debug
        )
        run_session(
            settings,
            job_id,
            worker_id=worker_id,
            seed=seed,
            idle_limit=idle,
            concurrency=concurrency,
        )
    except CopysealError as e:
        sys.stderr.write(f"error: crawl {job_id}: {e}\n")
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        pass
    except Exception:
        traceback.print_exc()
        sys.exit(1)
