"""Capture folders: hashed while written, published by one rename, never half-written."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
from pathlib import Path

import pytest

from copyseal import files
from copyseal.capture._files import ArtefactWriter, discard, in_thread, publish, staging_dir


def test_writer_hashes_what_it_writes(tmp_path: Path) -> None:
    w = ArtefactWriter(tmp_path)
    a = w.write("sub/x.bin", b"abc", media_type="application/octet-stream", role="image")
    assert a.sha256 == hashlib.sha256(b"abc").hexdigest() and a.size == 3
    assert (tmp_path / "sub/x.bin").read_bytes() == b"abc"
    (tmp_path / "y").write_bytes(b"hello")
    b = w.hash_existing("y", media_type="text/plain", role="dom")
    assert b.sha256 == hashlib.sha256(b"hello").hexdigest()
    assert [x.path for x in w.artefacts] == ["sub/x.bin", "y"]


def test_writer_refuses_to_overwrite_or_escape(tmp_path: Path) -> None:
    w = ArtefactWriter(tmp_path / "root")
    (tmp_path / "root").mkdir()
    w.write("a", b"1", media_type="t", role="r")
    with pytest.raises(FileExistsError):
        w.write("a", b"2", media_type="t", role="r")
    with pytest.raises(ValueError, match="escapes"):
        w.write("../evil", b"x", media_type="t", role="r")
    assert not (tmp_path / "evil").exists()


def test_staging_publish_and_discard(tmp_path: Path) -> None:
    # One publish path for every evidence write: copyseal.files' (synced, never over).
    assert (staging_dir, publish, discard) == (
        files.staging_dir,
        files.publish_dir,
        files.discard,
    )
    dest = tmp_path / "parent" / "cap"
    tmp = staging_dir(dest)
    assert tmp.parent == dest.parent and tmp.name.startswith(".cap.partial-")
    (tmp / "f").write_bytes(b"x")
    publish(tmp, dest)
    assert (dest / "f").read_bytes() == b"x" and not tmp.exists()
    again = staging_dir(dest)
    with pytest.raises(FileExistsError):
        publish(again, dest)
    discard(again)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["cap"]


def test_in_thread_returns_and_a_cancelled_caller_waits_for_the_thread() -> None:
    finished = threading.Event()

    def work(x: int, *, y: int) -> int:
        time.sleep(0.2)
        finished.set()
        return x + y

    async def run() -> bool:
        assert await in_thread(lambda: 3) == 3
        task = asyncio.ensure_future(in_thread(work, 1, y=2))
        await asyncio.sleep(0.05)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # The cancellation reached the caller only once the thread was done.
        return finished.is_set() and task.cancelled()

    assert asyncio.run(run())
