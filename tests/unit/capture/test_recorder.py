"""The network recorder's idle wait: event-driven, restarted by any request."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from copyseal.capture._recorder import NetworkRecorder


class _Request:
    url = "http://example.test/x"


def _recorder() -> NetworkRecorder:
    fake: Any = object()
    return NetworkRecorder(fake, fake)


def _finish(rec: NetworkRecorder) -> None:
    """What the browser's requestfinished event does for the last request."""
    rec._off_the_wire(rec.entries[-1].request)
    rec.entries[-1].done = True


def test_idle_returns_right_after_the_quiet_period() -> None:
    async def run() -> tuple[bool, float]:
        rec = _recorder()
        t0 = time.monotonic()
        ok = await rec.wait_idle(idle=0.2, timeout=5)
        return ok, time.monotonic() - t0

    ok, waited = asyncio.run(run())
    assert ok and 0.19 <= waited < 0.4  # the recorder was created at t0


def test_a_request_during_the_quiet_period_restarts_it() -> None:
    async def run() -> tuple[bool, float]:
        rec = _recorder()
        t0 = time.monotonic()

        async def page() -> None:
            await asyncio.sleep(0.15)
            rec._on_request(_Request())  # type: ignore[arg-type]
            await asyncio.sleep(0.1)
            _finish(rec)

        traffic = asyncio.ensure_future(page())
        ok = await rec.wait_idle(idle=0.2, timeout=5)
        await traffic
        return ok, time.monotonic() - t0

    ok, waited = asyncio.run(run())
    assert ok and 0.44 <= waited < 0.7  # 0.15 + 0.1 in flight, then 0.2 quiet


def test_a_request_in_flight_until_the_timeout_is_not_idle() -> None:
    async def run() -> tuple[bool, float, list[str]]:
        rec = _recorder()
        rec._on_request(_Request())  # type: ignore[arg-type]
        t0 = time.monotonic()
        ok = await rec.wait_idle(idle=0.05, timeout=0.3)
        return ok, time.monotonic() - t0, rec.pending()

    ok, waited, pending = asyncio.run(run())
    assert not ok and 0.29 <= waited < 0.6
    assert pending == ["http://example.test/x"]
