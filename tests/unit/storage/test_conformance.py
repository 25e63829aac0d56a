"""The evidence store conformance kit: every class in ``STORES`` passes these tests.

Each test runs once per URL scheme of :data:`copyseal.storage.STORES`; ``LOCATIONS`` says
how to make a fresh, empty store location of that scheme for a test. A new backend adds
its entry there (a test below fails until it does).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from copyseal.config import load_settings
from copyseal.errors import EvidenceStoreError
from copyseal.storage import STORES, Area, EvidenceStore, open_store
from copyseal.workspace import Workspace

#: A fresh store location of each scheme, under a test's temporary folder.
LOCATIONS: dict[str, Callable[[Path], str]] = {
    "": lambda tmp: str(tmp / "evidence"),
    "file": lambda tmp: (tmp / "evidence").as_uri(),
}


@pytest.fixture(params=sorted(STORES), ids=lambda s: s or "path")
def scheme(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def location(scheme: str, tmp_path: Path) -> str:
    return LOCATIONS[scheme](tmp_path)


@pytest.fixture
def store(location: str) -> EvidenceStore:
    made = open_store(location)
    made.create()
    return made


def _hidden(folder: Path) -> list[str]:
    """Names in ``folder`` a reader must never take for published evidence."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_every_scheme_has_a_test_location() -> None:
    assert sorted(LOCATIONS) == sorted(STORES)


def test_the_table_builds_the_listed_class(scheme: str, location: str) -> None:
    store = open_store(location)
    assert type(store) is STORES[scheme]
    assert isinstance(store, EvidenceStore)
    assert store.url.split(":", 1)[0] in {s for s in STORES if s}
    assert store.describe()
    assert open_store(store.url).url == store.url  # its URL opens the same store


def test_an_unknown_scheme_is_refused_with_the_known_ones() -> None:
    with pytest.raises(EvidenceStoreError, match=r"no evidence store for the scheme 'nope'"):
        open_store("nope://bucket/evidence")


def test_publish_a_file_and_read_it_back(store: EvidenceStore) -> None:
    path = store.publish_bytes(Area.WORKS, "ab12", b"original bytes")
    assert path == store.path(Area.WORKS, "ab12")
    assert path.read_bytes() == b"original bytes"
    assert stat.S_IMODE(path.stat().st_mode) == 0o444  # evidence is read-only
    assert store.names(Area.WORKS) == ["ab12"]
    with store.publish_stream(Area.EXPORT_RECEIPTS, "export-7.json", mode=0o644) as out:
        out.write(b"{")
        out.write(b"}")
    kept = store.path(Area.EXPORT_RECEIPTS, "export-7.json")
    assert kept.read_bytes() == b"{}" and stat.S_IMODE(kept.stat().st_mode) == 0o644


def test_publish_a_folder_and_read_it_back(store: EvidenceStore) -> None:
    staging = store.staging(Area.BUNDLES, "20260101T000000Z-00aa")
    (staging / "data").mkdir()
    (staging / "data" / "page.png").write_bytes(b"png")
    (staging / "manifest.json").write_bytes(b"{}")
    seen: list[Path] = []
    final = store.publish_dir(
        staging, Area.BUNDLES, "20260101T000000Z-00aa", before_rename=seen.append
    )
    assert seen == [staging] and not staging.exists()
    assert final == store.path(Area.BUNDLES, "20260101T000000Z-00aa")
    assert (final / "data" / "page.png").read_bytes() == b"png"
    assert store.names(Area.BUNDLES) == ["20260101T000000Z-00aa"]
    assert store.locate(str(final)) == final


def test_evidence_is_never_overwritten(store: EvidenceStore) -> None:
    store.publish_bytes(Area.WORKS, "x", b"first")
    with pytest.raises(FileExistsError):
        store.publish_bytes(Area.WORKS, "x", b"second")
    with pytest.raises(FileExistsError), store.publish_stream(Area.WORKS, "x") as out:
        out.write(b"third")
    assert store.path(Area.WORKS, "x").read_bytes() == b"first"
    first = store.staging(Area.BUNDLES, "b")
    (first / "f").write_bytes(b"1")
    store.publish_dir(first, Area.BUNDLES, "b")
    second = store.staging(Area.BUNDLES, "b")
    (second / "g").write_bytes(b"2")
    with pytest.raises(FileExistsError):
        store.publish_dir(second, Area.BUNDLES, "b")
    store.discard(second)
    assert sorted(os.listdir(store.path(Area.BUNDLES, "b"))) == ["f"]
    # Rebuilt caches (indexes) replace their files only when asked to.
    store.publish_bytes(Area.INDEX, "cache.bin", b"old", mode=0o644)
    store.publish_bytes(Area.INDEX, "cache.bin", b"new", mode=0o644, overwrite=True)
    assert store.path(Area.INDEX, "cache.bin").read_bytes() == b"new"
    assert _hidden(store.folder(Area.WORKS)) == _hidden(store.folder(Area.BUNDLES)) == []


@pytest.mark.parametrize(
    "name", ["", "../x", "/etc/passwd", "a/../../x", "a//b", ".hidden", "a/.b", "a\\b", "a\x00"]
)
def test_unsafe_names_are_refused(store: EvidenceStore, name: str) -> None:
    with pytest.raises(EvidenceStoreError, match="not a safe name"):
        store.path(Area.BUNDLES, name)
    with pytest.raises(EvidenceStoreError):
        store.publish_bytes(Area.BUNDLES, name, b"x")
    assert store.names(Area.BUNDLES) == []


def test_a_symbolic_link_cannot_lead_out_of_the_store(store: EvidenceStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store.folder(Area.EXPORTS).mkdir(parents=True)
    (store.folder(Area.EXPORTS) / "link").symlink_to(outside)
    with pytest.raises(EvidenceStoreError, match="outside"):
        store.publish_bytes(Area.EXPORTS, "link/x.zip", b"x")
    assert list(outside.iterdir()) == []


def test_stored_paths_resolve_safely(store: EvidenceStore, tmp_path: Path) -> None:
    final = store.publish_bytes(Area.WORKS, "kept", b"k")
    assert store.locate("works/kept").read_bytes() == b"k"  # relative to the store
    # Absolute paths, as database rows hold them: inside the store's areas as they are;
    # a store that moved keeps its old rows working (same area and name here); any
    # other path is refused, whatever the row says.
    assert store.locate(str(final)) == final
    assert store.locate(str(tmp_path / "moved" / "works" / "kept")).read_bytes() == b"k"
    for outside in (tmp_path / "moved" / "b1", Path("/etc/passwd"), tmp_path):
        with pytest.raises(EvidenceStoreError, match="outside the evidence store's areas"):
            store.locate(str(outside))
    for escaping in ("../elsewhere", "works/../../x", "bundles/../../etc/passwd"):
        with pytest.raises(EvidenceStoreError, match="outside the evidence store"):
            store.locate(escaping)


def test_publishing_is_atomic(store: EvidenceStore) -> None:
    dest = store.path(Area.WORKS, "big")
    with pytest.raises(RuntimeError), store.publish_stream(Area.WORKS, "big") as out:
        out.write(b"half of it")
        assert not dest.exists() and store.names(Area.WORKS) == []  # nothing visible yet
        raise RuntimeError("power cut")
    assert not dest.exists() and _hidden(store.folder(Area.WORKS)) == []
    staging = store.staging(Area.BUNDLES, "b")
    (staging / "f").write_bytes(b"1")
    assert store.names(Area.BUNDLES) == []  # a folder in the making is not listed

    def fail(_: Path) -> None:
        raise OSError("read-only file system")

    with pytest.raises(OSError, match="read-only"):
        store.publish_dir(staging, Area.BUNDLES, "b", before_rename=fail)
    assert not store.path(Area.BUNDLES, "b").exists()
    store.discard(staging)
    assert _hidden(store.folder(Area.BUNDLES)) == []


def test_publishing_is_durable(store: EvidenceStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The published file and its folder are fsynced (the rename is durable only once the
    folder is: rename(2), fsync(2))."""
    synced: set[int] = set()
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.add(os.fstat(fd).st_ino)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    path = store.publish_bytes(Area.WORKS, "w", b"bytes")
    assert {path.stat().st_ino, path.parent.stat().st_ino} <= synced
    synced.clear()
    staging = store.staging(Area.BUNDLES, "b")
    (staging / "f").write_bytes(b"1")
    final = store.publish_dir(staging, Area.BUNDLES, "b")
    inodes = {(final / "f").stat().st_ino, final.stat().st_ino, final.parent.stat().st_ino}
    assert inodes <= synced


def test_two_workspaces_share_one_store(location: str, tmp_path: Path) -> None:
    """Two machines mounting the same store: each sees what the other published, and
    neither overwrites the other's evidence."""

    def workspace(name: str) -> Workspace:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.yaml").write_text(
            f"workspace:\n  evidence_dir: '{location}'\n", encoding="utf-8"
        )
        return Workspace.open(load_settings(folder / "config.yaml"))

    a, b = workspace("a"), workspace("b")
    assert a.store.url == b.store.url
    a.store.create()
    a.store.publish_bytes(Area.WORKS, "same", b"from a")
    assert b.store.path(Area.WORKS, "same").read_bytes() == b"from a"
    with pytest.raises(FileExistsError):
        b.store.publish_bytes(Area.WORKS, "same", b"from b")
    # Both build the same folder at once: separate staging folders, one wins whole.
    from_a, from_b = a.store.staging(Area.BUNDLES, "b1"), b.store.staging(Area.BUNDLES, "b1")
    assert from_a != from_b
    (from_a / "who").write_bytes(b"a")
    (from_b / "who").write_bytes(b"b")
    b.store.publish_dir(from_b, Area.BUNDLES, "b1")
    with pytest.raises(FileExistsError):
        a.store.publish_dir(from_a, Area.BUNDLES, "b1")
    a.store.discard(from_a)
    assert (a.store.path(Area.BUNDLES, "b1") / "who").read_bytes() == b"b"
    # The other machine wins between the check for the name and the rename.
    late, early = a.store.staging(Area.BUNDLES, "b2"), b.store.staging(Area.BUNDLES, "b2")
    (late / "who").write_bytes(b"a")
    (early / "who").write_bytes(b"b")
    with pytest.raises(FileExistsError):
        a.store.publish_dir(
            late,
            Area.BUNDLES,
            "b2",
            before_rename=lambda _: b.store.publish_dir(early, Area.BUNDLES, "b2"),
        )
    a.store.discard(late)
    assert (a.store.path(Area.BUNDLES, "b2") / "who").read_bytes() == b"b"
    assert a.store.names(Area.BUNDLES) == b.store.names(Area.BUNDLES) == ["b1", "b2"]
    assert a.store.locate(str(b.store.path(Area.BUNDLES, "b1"))).is_dir()
