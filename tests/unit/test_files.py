"""``copyseal.files``: whole files or nothing, never over existing evidence."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from copyseal.files import discard, publish_bytes, publish_dir, publish_stream, staging_dir


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name)


def test_publish_bytes_writes_whole_file_with_mode(tmp_path: Path) -> None:
    dest = tmp_path / "a" / "b.bin"
    publish_bytes(dest, b"evidence", mode=0o444)
    assert dest.read_bytes() == b"evidence"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o444
    assert _leftovers(dest.parent) == []


def test_evidence_is_never_overwritten(tmp_path: Path) -> None:
    dest = tmp_path / "x"
    publish_bytes(dest, b"first")
    with pytest.raises(FileExistsError):
        publish_bytes(dest, b"second")
    assert dest.read_bytes() == b"first"
    publish_bytes(dest, b"rebuilt", overwrite=True)
    assert dest.read_bytes() == b"rebuilt"
    assert _leftovers(tmp_path) == []


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "x"
    with pytest.raises(RuntimeError), publish_stream(dest) as out:
        out.write(b"half")
        raise RuntimeError("disk on fire")
    assert not dest.exists()
    assert _leftovers(tmp_path) == []


def test_publish_dir_refuses_an_existing_folder(tmp_path: Path) -> None:
    dest = tmp_path / "bundle"
    tmp = staging_dir(dest)
    (tmp / "f.txt").write_bytes(b"1")
    seen: list[Path] = []
    publish_dir(tmp, dest, before_rename=seen.append)
    assert seen == [tmp] and (dest / "f.txt").read_bytes() == b"1" and not tmp.exists()
    again = staging_dir(dest)
    (again / "g.txt").write_bytes(b"2")
    with pytest.raises(FileExistsError):
        publish_dir(again, dest)
    assert sorted(os.listdir(dest)) == ["f.txt"]
    discard(again)
    assert _leftovers(tmp_path) == []
