"""Capturing one web page as evidence: :func:`capture_page`.

In a fresh browser context the page is loaded, scrolled with the mouse wheel (so lazy
images load), given a bounded time for the network to fall quiet, and photographed. The
capture folder then holds (file names are fixed, see :data:`copyseal.capture.LAYOUT`)::

    capture.json              the Capture summary: artefacts, facts, timings, errors
    screenshots/full.png      the whole page
    screenshots/viewport.png  what a visitor sees first
    closeups/NN.png           each matched image, outlined in red, with some context
    page/raw.html             the main document's body as the browser received it
    page/dom.html             the DOM after scripts ran (page.content())
    images/NN.<ext>           each matched image's bytes as downloaded
    archive.wacz              WACZ with the WARC of every request and response

The folder is written under a temporary name and renamed into place at the end; on any
failure it is removed and :class:`~copyseal.errors.CaptureError` says what went wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from copyseal.capture import _environment
from copyseal.capture._assemble import Assembler
from copyseal.capture._files import discard, publish, staging_dir
from copyseal.capture._network import dns_answers
from copyseal.capture._package import write_capture
from copyseal.capture.result import Capture, CaptureOptions, Target
from copyseal.capture.session import BrowserSession
from copyseal.errors import CaptureError
from copyseal.netpolicy import PROXY_ERROR_HEADER, AddressPolicy

__all__ = ["capture_page", "capture_page_sync", "new_capture_id"]


def new_capture_id(now: datetime | None = None) -> str:
    """``20260102T030405Z-1a2b3c4d``: sortable by time, unique by its random tail."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(4)


class _Timer:
    def __init__(self) -> None:
        self.phases: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = round(self.phases.get(name, 0.0) + time.perf_counter() - t0, 4)


def _first_line(e: BaseException) -> str:
    lines = [line for line in str(e).strip().splitlines() if line.strip()]
    return lines[0] if lines else e.__class__.__name__


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CaptureError(f"cannot capture {url!r}: only http:// and https:// URLs are captured")


# The scroll position once the page has rendered two frames after the last input. Lazy
# loading reacts in the rendering step: Chromium's native ``loading=lazy`` and script
# loaders alike are driven by IntersectionObserver, whose checks run when a frame is
# rendered and whose callbacks are queued as tasks right after it; the second frame (and
# the task after it) comes only once those callbacks have run. A fixed sleep gives no such
# guarantee: under load a frame can take longer than the sleep. A step gives up waiting
# for frames after _FRAME_TIMEOUT (counted in the facts).
_POSITION_AFTER_FRAMES_JS = """(timeoutMs) => new Promise((resolve) => {
  const position = (framed) => resolve([
    window.scrollY, window.innerHeight, document.documentElement.scrollHeight, framed]);
  requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => position(true), 0)));
  setTimeout(() => position(false), timeoutMs);
})"""
_POSITION_JS = "() => [window.scrollY, window.innerHeight, document.documentElement.scrollHeight]"
_FRAME_TIMEOUT = 1.0
# A page whose timers never fire (it broke setTimeout), or that went without frames for
# longer than the settle timeout in all, gets the fixed pause used before frames were
# awaited for the rest of its steps, so that scrolling stays bounded.
_FALLBACK_PAUSE = 0.05


async def _scroll(page: Any, options: CaptureOptions) -> dict[str, Any]:
    """Wheel down in steps until the bottom (lazy loaders react to real scrolling).

    After each step the page must have rendered at the new position (see
    ``_POSITION_AFTER_FRAMES_JS``) before the next one; ``options.scroll_pause`` adds a
    fixed pause on top. Requests the steps start are not waited for here: the settle that
    follows waits until the network has been quiet for ``options.idle_time``.
    """
    frames = True
    unframed = 0
    unframed_time = 0.0

    async def position() -> tuple[float, float, float]:
        nonlocal frames, unframed, unframed_time
        if not frames:
            await asyncio.sleep(_FALLBACK_PAUSE)
            y, inner, height = await page.evaluate(_POSITION_JS)
            return y, inner, height
        t0 = time.monotonic()
        try:
            y, inner, height, framed = await asyncio.wait_for(
                page.evaluate(_POSITION_AFTER_FRAMES_JS, _FRAME_TIMEOUT * 1000),
                _FRAME_TIMEOUT + 0.5,
            )
        except TimeoutError:  # not even the page's timer fired
            y, inner, height = await page.evaluate(_POSITION_JS)
            framed, frames = False, False
        if not framed:
            unframed += 1
            unframed_time += time.monotonic() - t0
            frames = frames and unframed_time <= options.settle_timeout
        return y, inner, height

    await page.mouse.move(options.viewport[0] / 2, options.viewport[1] / 2)
    steps = 0
    y, inner, height = await position()
    bottom = y + inner >= height - 2
    while not bottom and steps < options.max_scroll_steps:
        await page.mouse.wheel(0, options.scroll_step)
        steps += 1
        if options.scroll_pause > 0:
            await asyncio.sleep(options.scroll_pause)
        y, inner, height = await position()
        bottom = y + inner >= height - 2
    await page.evaluate("() => window.scrollTo(0, 0)")
    pause = "two rendered frames" if frames else f"{_FALLBACK_PAUSE:g} s"
    if options.scroll_pause > 0:
        pause += f" plus {options.scroll_pause:g} s"
    return {
        "wheel_steps": steps,
        "step_pixels": options.scroll_step,
        "reached_bottom": bottom,
        "pause_after_each_step": pause,
        # Positions read without two rendered frames within _FRAME_TIMEOUT.
        "positions_without_frames": unframed,
    }


async def capture_page(
    url: str,
    dest: Path,
    *,
    session: BrowserSession | None = None,
    targets: Sequence[Target | str] = (),
    options: CaptureOptions | None = None,
    capture_id: str | None = None,
) -> Capture:
    """Capture ``url`` into the new folder ``dest`` (see the module docstring for its files).

    Args:
        url: An ``http://`` or ``https://`` address.
        dest: The capture folder to create; it must not exist. Its parent is created.
        session: A started :class:`BrowserSession` to reuse (default: a new one, closed after).
        targets: Matched images to outline and keep (a plain string is an image URL).
        options: Timeouts, viewport, User-Agent and the rest (:class:`CaptureOptions`).
        capture_id: An identifier to record (default: :func:`new_capture_id`).

    Returns:
        The :class:`Capture`, whose ``folder`` is ``dest``.

    Raises:
        CaptureError: the page failed to load (DNS, refused connection, TLS, HTTP status
            400 or more unless ``options.keep_error_pages``, timeout), the browser
            failed, or ``dest`` exists. Nothing is left
            behind. A page whose network never falls quiet is still captured, with a note in
            ``Capture.errors``.
    """
    _check_url(url)
    options = options or CaptureOptions()
    wanted = tuple(Target(url=t) if isinstance(t, str) else t for t in targets)
    dest = Path(dest)
    if dest.exists():
        raise CaptureError(f"{dest} exists already: a capture folder is never rewritten")
    own = session is None
    active = session or BrowserSession()
    tmp: Path | None = None
    try:
        refused = await active.policy.check(url)
        if refused is not None:
            raise CaptureError(f"cannot capture {url}: refused: {refused.detail}")
        await active.start()
        tmp = staging_dir(dest)
        capture = await _run(url, dest, tmp, active, wanted, options, capture_id)
        publish(tmp, dest)
        return capture
    except CaptureError:
        raise
    except PlaywrightError as e:
        raise CaptureError(f"cannot capture {url}: browser error: {_first_line(e)}") from e
    except OSError as e:
        raise CaptureError(f"cannot capture {url}: cannot write {dest}: {e}") from e
    finally:
        if tmp is not None and tmp.exists():
            discard(tmp)
        if own:
            await active.close()


async def _run(
    url: str,
    dest: Path,
    tmp: Path,
    session: BrowserSession,
    targets: tuple[Target, ...],
    options: CaptureOptions,
    capture_id: str | None,
) -> Capture:
    started = datetime.now(UTC)
    capture_id = capture_id or new_capture_id(started)

    dns_task = asyncio.ensure_future(dns_answers(url))
    clock_task = asyncio.ensure_future(
        asyncio.to_thread(_environment.clock_facts, options.ntp_server, timeout=options.ntp_timeout)
    )
    try:
        return await _load_and_write(
            url, dest, tmp, session, targets, options, capture_id, started, dns_task, clock_task
        )
    finally:
        for task in (dns_task, clock_task):
            if not task.done():
                task.cancel()
            with contextlib.suppress(BaseException):
                await task


async def _load_and_write(
    url: str,
    dest: Path,
    tmp: Path,
    session: BrowserSession,
    targets: tuple[Target, ...],
    options: CaptureOptions,
    capture_id: str,
    started: datetime,
    dns_task: asyncio.Future[dict[str, Any]],
    clock_task: asyncio.Future[dict[str, Any]],
) -> Capture:
    timer = _Timer()
    t0 = time.perf_counter()
    static_env = await session.static_environment()
    with timer("open"):
        context, page = await session.new_page(
            viewport=options.viewport,
            user_agent=options.user_agent,
            ignore_https_errors=options.ignore_https_errors,
        )
    asm = Assembler(
        url=url, capture_id=capture_id, tmp=tmp, options=options, timer=timer, started=started
    )
    try:
        with timer("open"):
            await asm.attach(context, page, egress=session.egress)
        with timer("navigate"):
            try:
                response = await page.goto(
                    url, wait_until="load", timeout=options.load_timeout * 1000
                )
            except PlaywrightTimeoutError as e:
                raise CaptureError(
                    f"cannot capture {url}: the page did not load within {options.load_timeout:g} s"
                ) from e
            except PlaywrightError as e:
                raise CaptureError(
                    f"cannot capture {url}: the page failed to load: {_first_line(e)}"
                ) from e
        if response is None:
            raise CaptureError(f"cannot capture {url}: the browser reported no document response")
        # A redirect to a refused address ends at the egress proxy's 403: say why instead.
        refused = await session.policy.check(response.url)
        if refused is not None:
            raise CaptureError(
                f"cannot capture {url}: redirected to {response.url}, refused: {refused.detail}"
            )
        # The proxy's own 502: the site could not be reached (no server answered).
        unreachable = response.headers.get(PROXY_ERROR_HEADER.lower())
        if unreachable:
            raise CaptureError(f"cannot capture {url}: the page failed to load: {unreachable}")
        if response.status >= 400 and not options.keep_error_pages:
            raise CaptureError(
                f"cannot capture {url}: the server answered HTTP {response.status} "
                f"{response.status_text}".rstrip()
            )
        with timer("scroll"):
            scroll = await _scroll(page, options)
        with timer("settle"):
            await asm.settle()
        await asm.photograph(page, scroll=scroll, targets=targets)
        await asm.closeups(page, targets)
        await asm.keep_images(context, targets)
        with timer("tls"):
            await asm.tls(response)
        with timer("collect"):
            await asm.collect(page, response)
        asm.network["address_policy"] = _policy_facts(session, since=started.timestamp())
    except BaseException:
        with contextlib.suppress(PlaywrightError):
            await context.close()
        raise
    # Everything is collected: the browser closes the context while the files are written.
    closing = asyncio.ensure_future(_close_quietly(context))
    try:
        asm.set_environment(static_env, await clock_task, await dns_task)
        return await write_capture(asm, dest=dest, total_start=t0)
    finally:
        await closing


def _policy_facts(session: BrowserSession, *, since: float) -> dict[str, Any]:
    """The address policy in force and the requests the egress proxy refused meanwhile."""
    egress = session.egress
    return {
        **session.policy.describe(),
        "enforced_by": f"copyseal egress proxy on {egress.url} (h11), pinned resolution",
        "refused_note": "requests the session's proxy refused while this capture ran"
        " (captures sharing the browser session share the proxy)",
        "refused": [r.to_json() for r in egress.refusals if r.at >= since][:200],
    }


async def _close_quietly(context: Any) -> None:
    with contextlib.suppress(PlaywrightError):
        await context.close()


def capture_page_sync(
    url: str,
    dest: Path,
    *,
    targets: Sequence[Target | str] = (),
    options: CaptureOptions | None = None,
    executable: Path = Path("/usr/bin/chromium"),
    settings_digest: str | None = None,
    capture_id: str | None = None,
    policy: AddressPolicy | None = None,
) -> Capture:
    """:func:`capture_page` for synchronous callers: starts and closes its own browser
    (whose requests obey ``policy``, default: global addresses only).

    Must not be called from a running event loop (use :func:`capture_page` there).
    """

    async def run() -> Capture:
        async with BrowserSession(
            executable=executable, settings_digest=settings_digest, policy=policy
        ) as s:
            return await capture_page(
                url, dest, session=s, targets=targets, options=options, capture_id=capture_id
            )

    return asyncio.run(run())
