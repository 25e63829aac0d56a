"""The match pool: the same outcomes as the in-process matcher, on real photos; a worker
that dies on a poisoned image (or hangs on one) is replaced, that image alone fails with a
reason code and is not retried, and the images after it are matched."""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy.engine import Engine

from copyseal.config import Settings, load_settings
from copyseal.crawl._items import ImageItem
from copyseal.crawl._pipelines import MatchPipeline
from copyseal.registry import WorkRecord, build_matcher, register_paths
from copyseal.registry.pool import MatchPool, default_workers
from copyseal.workspace import Workspace, init_workspace


def _jpeg(pixels: np.ndarray, quality: int = 80) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


class _Poisoned:
    """The workspace matcher, except that bytes starting ``POISON`` kill the process (as
    a decoder's segfault would) and ``HANG`` never returns."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __len__(self) -> int:
        return len(self.inner)

    def match(self, data: bytes, *, name: str = "") -> Sequence[Any]:
        if data.startswith(b"POISON"):
            os.abort()
        if data.startswith(b"HANG"):
            time.sleep(600)
        return self.inner.match(data, name=name)  # type: ignore[no-any-return]


def poisoned_factory(engine: Engine, settings: Settings, *, use_cache: bool = True) -> _Poisoned:
    return _Poisoned(build_matcher(engine, settings, use_cache=use_cache))


def broken_factory(engine: Engine, settings: Settings, *, use_cache: bool = True) -> Any:
    raise ValueError("this matcher cannot be built")


@pytest.fixture(scope="module")
def registered(
    tmp_path_factory: pytest.TempPathFactory, photos: dict[str, np.ndarray]
) -> Iterator[tuple[Workspace, dict[str, str]]]:
    """A SQLite workspace with three real photos registered."""
    tmp = tmp_path_factory.mktemp("pool")
    init_workspace(tmp / "ws")
    ws = Workspace.open(load_settings(tmp / "ws" / "config.yaml"))
    paths = []
    for name in ("astronaut", "chelsea", "china"):
        path = tmp / f"{name}.jpg"
        path.write_bytes(_jpeg(photos[name], 92))
        paths.append(path)
    ids = {}
    for record in register_paths(ws, paths):
        assert isinstance(record, WorkRecord)
        ids[Path(record.source_path).stem if record.source_path else ""] = record.work_id
    yield ws, ids
    ws.close()


def _queries(photos: dict[str, np.ndarray]) -> list[bytes]:
    a, c, f = photos["astronaut"], photos["chelsea"], photos["flower"]
    return [
        _jpeg(np.ascontiguousarray(a[60:420, 40:400][:, ::-1]), 60),  # crop + mirror
        _jpeg(np.ascontiguousarray(c[::2, ::2]), 50),  # half size
        _jpeg(f),  # unregistered
        _jpeg(np.ascontiguousarray(photos["coffee"])),  # unregistered
        b"<html>not an image</html>",
    ]


def test_pool_outcomes_equal_the_in_process_matcher(
    registered: tuple[Workspace, dict[str, str]], photos: dict[str, np.ndarray]
) -> None:
    ws, ids = registered
    matcher = build_matcher(ws.engine, ws.settings)
    queries = _queries(photos)
    expected: list[Any] = []
    for q in queries:
        try:
            expected.append([m.to_json() for m in matcher.match(q)])
        except Exception as e:
            expected.append(("unusable", str(e)))
    with MatchPool(
        factory="copyseal.registry.build_matcher", settings=ws.settings, workers=2
    ) as pool:
        got = [f.result(timeout=120) for f in [pool.submit(q) for q in queries]]
    assert got == expected
    assert [m["work_id"] for m in got[0]] == [ids["astronaut"]]
    assert [m["work_id"] for m in got[1]] == [ids["chelsea"]]
    assert got[2] == [] and got[3] == []
    assert got[4][0] == "unusable" and "not an image" in got[4][1]
    assert default_workers(None) == (os.cpu_count() or 1) and default_workers(0) == 0


def test_a_worker_dying_on_a_poisoned_image_is_replaced_and_the_crawl_goes_on(
    registered: tuple[Workspace, dict[str, str]], photos: dict[str, np.ndarray]
) -> None:
    """Through the crawl's pipeline: the poisoned item is skipped with a reason code, the
    same bytes again are not matched again, and the next images are matched."""
    ws, ids = registered
    ctx = SimpleNamespace(
        store=SimpleNamespace(engine=ws.engine),
        settings=ws.settings.model_copy(
            update={"match": ws.settings.match.model_copy(update={"workers": 1})}
        ),
        known_outcomes={},
    )
    pipeline = MatchPipeline(ctx, poisoned_factory)  # type: ignore[arg-type]
    pipeline.open_spider()
    assert pipeline.pool is not None and pipeline.pool.workers == 1
    copy = _jpeg(np.ascontiguousarray(photos["china"][50:380, 60:560]), 70)

    def item(data: bytes, n: int) -> ImageItem:
        import hashlib

        return ImageItem(
            ref=None,  # type: ignore[arg-type]  # the match pipeline does not read it
            page_url="http://127.0.0.1/p.html",
            url=f"http://127.0.0.1/{n}.jpg",
            sha256=hashlib.sha256(data).hexdigest(),
            data=data,
            status="ok",
        )

    async def run() -> list[ImageItem]:
        items = [item(b"POISON!", 0), item(copy, 1), item(b"POISON!", 2)]
        return [await pipeline.process_item(i) for i in items]

    try:
        poisoned, found, again = asyncio.run(run())
    finally:
        pipeline.close_spider()
    assert poisoned.status == "skipped" and poisoned.reason_code == "matcher-crashed"
    assert again.reason_code == "matcher-crashed" and pipeline.matched == 2  # not retried
    assert pipeline.pool.crashes == 1
    assert found.status == "ok" and [m["work_id"] for m in found.outcome] == [ids["china"]]


def test_a_hanging_image_times_out_and_its_worker_is_replaced(
    registered: tuple[Workspace, dict[str, str]], photos: dict[str, np.ndarray]
) -> None:
    ws, ids = registered
    with MatchPool(factory=poisoned_factory, settings=ws.settings, workers=1, timeout=3) as pool:
        hang = pool.submit(b"HANG")
        after = pool.submit(_jpeg(photos["astronaut"], 70))
        code, detail = hang.result(timeout=120)
        assert code == "matcher-timeout" and "3 s" in detail
        assert [m["work_id"] for m in after.result(timeout=120)] == [ids["astronaut"]]
        assert pool.crashes == 1


def test_a_matcher_that_cannot_be_built_fails_each_image_without_retrying(
    registered: tuple[Workspace, dict[str, str]],
    photos: dict[str, np.ndarray],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only an unreachable database is worth starting a worker again for
    (``tests/integration/test_faults.py``); a factory that fails otherwise fails every
    image at once with the reason, and no start is retried."""
    ws, _ = registered
    with MatchPool(factory=broken_factory, settings=ws.settings, workers=1, timeout=60) as pool:
        outcomes = [pool.submit(_jpeg(photos["astronaut"], q)).result(timeout=60) for q in (70, 80)]
    for outcome in outcomes:
        assert isinstance(outcome, tuple) and outcome[0] == "matcher-error"
        assert "could not start: ValueError: this matcher cannot be built" in outcome[1]
    assert not [r for r in caplog.records if "cannot reach the database" in r.getMessage()]
    assert len([r for r in caplog.records if "could not start" in r.getMessage()]) == 1


def test_no_process_starts_when_nothing_is_fingerprinted_or_workers_is_0(
    tmp_path: Path, registered: tuple[Workspace, dict[str, str]]
) -> None:
    init_workspace(tmp_path / "empty")
    empty = Workspace.open(load_settings(tmp_path / "empty" / "config.yaml"))
    ws, _ = registered
    no_workers = ws.settings.model_copy(
        update={"match": ws.settings.match.model_copy(update={"workers": 0})}
    )
    try:
        for engine, settings in ((empty.engine, empty.settings), (ws.engine, no_workers)):
            ctx = SimpleNamespace(store=SimpleNamespace(engine=engine), settings=settings)
            pipeline = MatchPipeline(ctx, build_matcher)  # type: ignore[arg-type]
            pipeline.open_spider()
            assert pipeline.pool is None and pipeline.matcher is not None
            pipeline.close_spider()
    finally:
        empty.close()
