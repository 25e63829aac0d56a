"""Render contexts: a new one every N pages, a retired one closed with its last page."""

from __future__ import annotations

import asyncio
from typing import Any

from copyseal.crawl._contexts import ContextRotation


class _Context:
    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


class _Page:
    """The two things the rotation uses of a Playwright page: its context, close()."""

    def __init__(self, context: _Context) -> None:
        self.context = context
        self.closed = False

    async def close(self) -> None:
        self.closed = True


def test_contexts_rotate_and_retired_ones_close_after_their_last_page() -> None:
    async def run() -> tuple[list[str], dict[str, _Context], ContextRotation]:
        rotation = ContextRotation(every=2)
        contexts: dict[str, _Context] = {}
        metas: list[dict[str, Any]] = []
        for _ in range(5):
            meta: dict[str, Any] = {"playwright": True}
            rotation.assign(meta)
            metas.append(meta)
        names = [m["playwright_context"] for m in metas]
        pages = [_Page(contexts.setdefault(n, _Context())) for n in names]
        # The second page of the first context finishes last: its context stays open until then.
        for i in (0, 2, 3, 4):
            await rotation.release(metas[i], pages[i])
        await asyncio.sleep(0)
        assert not contexts["default"].closed
        assert contexts["render-1"].closed
        await rotation.release(metas[1], pages[1])
        await asyncio.sleep(0)
        assert all(p.closed for p in pages)
        return names, contexts, rotation

    names, contexts, rotation = asyncio.run(run())
    assert names == ["default", "default", "render-1", "render-1", "render-2"]
    assert contexts["default"].closed
    assert not contexts["render-2"].closed  # the current one stays open
    assert rotation.closed == 2


def test_a_retried_request_is_counted_once() -> None:
    rotation = ContextRotation(every=10)
    meta: dict[str, Any] = {"playwright": True}
    rotation.assign(meta)
    rotation.assign(meta)  # the retry middleware sends the same meta again
    assert rotation.open == {"default": 1}


def test_no_rotation_keeps_one_context_with_service_workers_blocked() -> None:
    rotation = ContextRotation(every=0)
    meta: dict[str, Any] = {}
    for _ in range(300):
        rotation.assign(meta)
    assert meta["playwright_context"] == "default"
    assert meta["playwright_context_kwargs"] == {"service_workers": "block"}
    assert rotation.open == {}
