"""Bundle zips and folders forged as an attacker would: each is refused, naming what is
wrong, while the genuine bundle (real photos, a SQLite workspace's ledger) verifies."""

from __future__ import annotations

import io
import os
import shutil
import stat
import struct
import subprocess
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from copyseal.bundle import BundleInfo, EvidenceFile, export_zip, verify_bundle, write_bundle
from copyseal.bundle.check import ZipLimits
from copyseal.errors import VerificationError
from copyseal.ledger import Ledger
from copyseal.storage import Area
from copyseal.workspace import Workspace, init_workspace


def entries(archive: Path) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(archive) as zf:
        return [(i, zf.read(i)) for i in zf.infolist()]


def rebuild(
    out: Path,
    items: list[tuple[zipfile.ZipInfo, bytes]],
) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on a duplicate name: that is the point
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for info, data in items:
                zf.writestr(info, data)
    return out


def named(name: str, mode: int = 0o100644) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


@pytest.fixture(scope="module")
def sealed(
    tmp_path_factory: pytest.TempPathFactory, photos: dict[str, np.ndarray]
) -> Iterator[tuple[BundleInfo, Ledger]]:
    """One real bundle (photos, a SQLite workspace's ledger) for the whole module: every
    forgery below starts from a copy of it."""
    ws = Workspace.open(init_workspace(tmp_path_factory.mktemp("sealed") / "ws"))
    ledger = Ledger(
        engine=ws.engine, origin=ws.settings.ledger.origin, signing_key=ws.signing_key()
    )
    ledger.append([("test", f"entry {i}".encode()) for i in range(5)])
    files = [
        EvidenceFile(
            name="screenshot-full.png", media_type="image/png", data=png(photos["coffee"])
        ),
        EvidenceFile(
            name="page/raw.html", media_type="text/html", data=b"<html><img src=a></html>"
        ),
        EvidenceFile(
            name="images/found.png", media_type="image/png", data=png(photos["astronaut"])
        ),
    ]
    info = write_bundle(
        root=ws.store.folder(Area.BUNDLES),
        url="http://127.0.0.1:8000/gallery/",
        captured_at=datetime(2026, 11, 25, 9, 0, 0, tzinfo=UTC),
        files=files,
        match={"work_id": "w0123456789abcdef0123", "score": 0.97},
        capture={"status": 200, "final_url": "http://127.0.0.1:8000/gallery/"},
        signing_key=ws.signing_key(),
        ledger=ledger,
        organization="Jane Doe Photography",
    )
    yield info, ledger
    ws.close()


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def bundle(sealed: tuple[BundleInfo, Ledger]) -> BundleInfo:
    return sealed[0]


@pytest.fixture(scope="module")
def ledger(sealed: tuple[BundleInfo, Ledger]) -> Ledger:
    return sealed[1]


@pytest.fixture(scope="module")
def genuine(bundle: BundleInfo, ledger: Ledger, tmp_path_factory: pytest.TempPathFactory) -> Path:
    archive = export_zip(bundle.path, tmp_path_factory.mktemp("zip") / "genuine.zip")
    assert verify_bundle(archive, vkey=ledger.vkey()).ok
    return archive


def test_a_forged_first_entry_with_the_genuine_one_later_is_refused(
    genuine: Path, bundle: BundleInfo, ledger: Ledger, tmp_path: Path
) -> None:
    items = entries(genuine)
    raw = f"{bundle.bundle_id}/data/page/raw.html"
    assert any(i.filename == raw for i, _ in items)
    forged = rebuild(tmp_path / "dup.zip", [(named(raw), b"<html>forged</html>"), *items])
    with zipfile.ZipFile(forged) as zf:  # what a first-entry reader shows
        first = next(i for i in zf.infolist() if i.filename == raw)
        assert zf.read(first) == b"<html>forged</html>"
    with pytest.raises(VerificationError, match=r"raw\.html' appears twice"):
        verify_bundle(forged, vkey=ledger.vkey())


@pytest.mark.parametrize(
    "twin",
    [
        "data/page/RAW.html",  # equal after case folding
        "data/page/\uff52aw.html",  # fullwidth r: equal after NFKC
        "data/page/raw.html/",  # a folder of the same name
    ],
)
def test_names_equal_after_folding_are_refused(
    genuine: Path, bundle: BundleInfo, ledger: Ledger, tmp_path: Path, twin: str
) -> None:
    info = named(f"{bundle.bundle_id}/{twin}", 0o40755 if twin.endswith("/") else 0o100644)
    forged = rebuild(tmp_path / "twin.zip", [*entries(genuine), (info, b"")])
    with pytest.raises(VerificationError, match="same name as entry"):
        verify_bundle(forged, vkey=ledger.vkey())


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        (stat.S_IFLNK | 0o777, "is a symlink"),
        (stat.S_IFIFO | 0o644, "not a regular file or folder"),
        (stat.S_IFCHR | 0o644, "not a regular file or folder"),
    ],
)
def test_symlink_and_special_entries_are_refused(
    genuine: Path, bundle: BundleInfo, ledger: Ledger, tmp_path: Path, mode: int, message: str
) -> None:
    items = entries(genuine)
    # The genuine raw.html replaced by a link to a file outside, as `zip --symlinks` stores it.
    raw = f"{bundle.bundle_id}/data/page/raw.html"
    items = [(named(raw, mode), b"/etc/passwd") if i.filename == raw else (i, d) for i, d in items]
    forged = rebuild(tmp_path / "link.zip", items)
    with pytest.raises(VerificationError, match=rf"raw\.html' (is )?{message}"):
        verify_bundle(forged, vkey=ledger.vkey())


def test_an_empty_folder_and_a_second_name_are_refused(
    genuine: Path, bundle: BundleInfo, ledger: Ledger, tmp_path: Path
) -> None:
    empty = named(f"{bundle.bundle_id}/data/empty/", 0o40755)
    forged = rebuild(tmp_path / "empty.zip", [*entries(genuine), (empty, b"")])
    with pytest.raises(VerificationError, match="folder with no file: data/empty/"):
        verify_bundle(forged, vkey=ledger.vkey())
    items = entries(genuine)
    other = b"x/data/page/raw.html"
    items[0][0].extra = struct.pack("<HHB", 0x7075, 5 + len(other), 1) + bytes(4) + other
    with pytest.raises(VerificationError, match="second name"):
        verify_bundle(rebuild(tmp_path / "upath.zip", items), vkey=ledger.vkey())


def test_a_local_entry_hidden_from_the_central_directory_is_refused(
    genuine: Path, bundle: BundleInfo, ledger: Ledger, tmp_path: Path
) -> None:
    """A streaming reader (local headers, front to back) would show the prepended forgery."""
    lone = rebuild(
        tmp_path / "lone.zip",
        [(named(f"{bundle.bundle_id}/data/page/raw.html"), b"<html>forged</html>")],
    )
    with zipfile.ZipFile(lone) as zf:
        local_end = zf.start_dir
    forged = tmp_path / "hidden.zip"
    forged.write_bytes(lone.read_bytes()[:local_end] + genuine.read_bytes())
    with zipfile.ZipFile(forged) as zf:  # Python's reader still finds every genuine entry
        assert zf.testzip() is None
    with pytest.raises(VerificationError, match="hidden or overlapping data"):
        verify_bundle(forged, vkey=ledger.vkey())


def test_entry_count_and_total_size_caps(genuine: Path, ledger: Ledger) -> None:
    count = len(entries(genuine))
    assert verify_bundle(genuine, vkey=ledger.vkey(), limits=ZipLimits(max_entries=count)).ok
    with pytest.raises(VerificationError, match=f"has {count} entries, more than {count - 1}"):
        verify_bundle(genuine, vkey=ledger.vkey(), limits=ZipLimits(max_entries=count - 1))
    with pytest.raises(VerificationError, match=r"more than 1000$"):
        verify_bundle(genuine, vkey=ledger.vkey(), limits=ZipLimits(max_total_bytes=1000))


def _bomb_entry(size: int) -> tuple[zipfile.ZipInfo, bytes, int]:
    """A raw deflate stream of ``size`` zero bytes, built without holding them."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    crc = 0
    parts = []
    for _ in range(size // len(chunk)):
        parts.append(comp.compress(chunk))
        crc = zlib.crc32(chunk, crc)
    parts.append(comp.flush())
    return named("x"), b"".join(parts), crc


def write_bomb(out: Path, name: str, size: int) -> Path:
    """A zip whose one entry expands ``size`` bytes (local header, data, central directory
    and end record by hand, as an attacker's tool would write them)."""
    _, data, crc = _bomb_entry(size)
    raw = name.encode()
    local = struct.pack(
        "<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(data), size, len(raw), 0
    )
    central = struct.pack(
        "<4sHHHHHHIIIHHHHHII",
        b"PK\x01\x02",
        (3 << 8) | 20,
        20,
        0,
        8,
        0,
        0x21,
        crc,
        len(data),
        size,
        len(raw),
        0,
        0,
        0,
        0,
        0o100644 << 16,
        0,
    )
    body = local + raw + data
    cd = central + raw
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(cd), len(body), 0)
    out.write_bytes(body + cd + end)
    return out


def _written() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise AssertionError("no wchar in /proc/self/io")


def test_a_small_zip_bomb_is_refused_without_writing(
    bundle: BundleInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review's bomb: about 500 KB expanding to 512 MiB. Nothing goes to the temporary
    folder and the process writes (far) less than a MiB while refusing it."""
    bomb = write_bomb(tmp_path / "bomb.zip", f"{bundle.bundle_id}/data/page/raw.html", 512 << 20)
    assert bomb.stat().st_size < 600_000
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    before = _written()
    with pytest.raises(VerificationError, match=r"raw\.html' expands 536870912 bytes from"):
        verify_bundle(bomb)
    assert _written() - before < 1 << 20
    assert list(scratch.iterdir()) == []


def test_a_bomb_under_the_caps_is_read_in_place(
    bundle: BundleInfo, ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the ratio cap lifted, the 64 MiB entry is read straight from the zip: the
    verification fails (it is no manifest), and still nothing is written."""
    bomb = write_bomb(tmp_path / "bomb.zip", f"{bundle.bundle_id}/manifest.json", 64 << 20)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    before = _written()
    result = verify_bundle(bomb, vkey=ledger.vkey(), limits=ZipLimits(max_ratio=10_000))
    assert not result.ok and "manifest" in {c.name for c in result.failures()}
    assert _written() - before < 1 << 20
    assert list(scratch.iterdir()) == []


def writable_copy(bundle: BundleInfo, tmp_path: Path) -> Path:
    dest = tmp_path / "copy" / bundle.bundle_id
    shutil.copytree(bundle.path, dest)
    for p in dest.rglob("*"):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    return dest


def unlisted(result: object) -> str:
    return next(c.detail for c in result.checks if c.name == "unlisted" and not c.ok)  # type: ignore[attr-defined]


def test_a_folder_with_a_symlinked_folder_fifo_or_empty_folder_fails(
    bundle: BundleInfo, ledger: Ledger, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("internal")
    for name, make, message in [
        ("data/linked", lambda p: p.symlink_to(outside), "data/linked: a symlink"),
        ("data/empty", lambda p: p.mkdir(), "data/empty/: an empty folder"),
        ("data/pipe", lambda p: os.mkfifo(p), "data/pipe: not a regular file or folder"),
    ]:
        copy = writable_copy(bundle, tmp_path / name.replace("/", "-"))
        assert verify_bundle(copy, vkey=ledger.vkey()).ok
        make(copy / name)
        result = verify_bundle(copy, vkey=ledger.vkey())
        assert not result.ok
        assert message in unlisted(result)


def test_a_zip_made_by_info_zip_verifies(
    bundle: BundleInfo, ledger: Ledger, tmp_path: Path
) -> None:
    """``zip -r`` (folder entries, Unix extra fields) is how people zip a folder by hand."""
    if shutil.which("zip") is None:
        pytest.skip("Info-ZIP's zip is not installed")
    out = tmp_path / "by-hand.zip"
    subprocess.run(["zip", "-qr", str(out), bundle.path.name], cwd=bundle.path.parent, check=True)
    with zipfile.ZipFile(out) as zf:
        assert any(i.is_dir() for i in zf.infolist())
    assert verify_bundle(out, vkey=ledger.vkey()).ok
