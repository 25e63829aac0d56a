"""Browser sessions: fresh contexts, and the blank page kept ready for the next capture."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from copyseal.capture import BrowserSession

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():  # pragma: no cover - the machine has it
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)


def test_a_page_is_kept_ready_from_the_second_one_on() -> None:
    async def run() -> None:
        session = BrowserSession(executable=CHROMIUM)
        async with session:
            first_ctx, _first = await session.new_page(viewport=(800, 600))
            assert session._spare is None  # one capture: nothing made ahead
            second_ctx, _second = await session.new_page(viewport=(800, 600))
            assert session._spare is not None
            ready = await session._spare[1]
            third_ctx, third = await session.new_page(viewport=(800, 600))
            assert (third_ctx, third) == ready  # the page made ahead
            assert third.url == "about:blank"
            assert third.viewport_size == {"width": 800, "height": 600}
            assert third_ctx.pages == [third] and await third_ctx.cookies() == []
            assert len({id(first_ctx), id(second_ctx), id(third_ctx)}) == 3

            # A spare made for other options is not used, and is closed.
            spare_ctx, _ = await session._spare[1]
            other_ctx, other = await session.new_page(viewport=(640, 480), user_agent="x/1")
            assert other_ctx is not spare_ctx
            assert other.viewport_size == {"width": 640, "height": 480}
            assert await other.evaluate("navigator.userAgent") == "x/1"
            assert spare_ctx not in session._browser.contexts  # type: ignore[union-attr]
            for ctx in (first_ctx, second_ctx, third_ctx, other_ctx):
                await ctx.close()
            assert session._spare is not None
        assert session._spare is None  # closed with the session

    asyncio.run(run())


def test_chromium_asks_no_google_service_while_it_runs() -> None:
    """With copyseal's flags, what Chromium asks for by itself (its component updater, the
    sign-in account list: ~1.2 s and ~1.3 s after start here) goes to ``.invalid`` hosts,
    which never resolve on any machine, instead of update.googleapis.com and
    accounts.google.com, which the egress proxy lets through where they resolve."""

    async def run() -> list[str]:
        async with BrowserSession(executable=CHROMIUM) as session:
            context, page = await session.new_page(viewport=(800, 600))
            await page.set_content("<p>nothing to load</p>")
            await asyncio.sleep(4.0)
            await context.close()
            return [f"{r.method} {r.target}" for r in session.egress.refusals]

    asked = asyncio.run(run())
    google = [t for t in asked if "google" in t.lower() or "gvt1" in t.lower()]
    assert google == [], asked
    for target in asked:
        assert ".invalid" in target, asked
