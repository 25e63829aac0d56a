from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bagit
import pytest

from copyseal.bundle import BundleInfo, EvidenceFile, export_zip, parse_manifest, write_bundle
from copyseal.bundle.writer import TAG_FILES
from copyseal.errors import BundleError
from copyseal.ledger import Ledger, verify_receipt
from copyseal.workspace import Workspace


def test_layout_manifest_and_hashes(bundle: BundleInfo, evidence_files: list[EvidenceFile]) -> None:
    root = bundle.path
    assert root.name == bundle.bundle_id and bundle.bundle_id.startswith("20261125T090000Z-")
    present = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    data = ["data/images/found.png", "data/page/raw.html", "data/screenshot-full.png"]
    assert present == sorted([*data, *TAG_FILES, "tagmanifest-sha256.txt"])
    manifest_bytes = (root / "manifest.json").read_bytes()
    manifest = parse_manifest(manifest_bytes)
    assert [f.path for f in manifest.files] == data
    for f in manifest.files:
        content = (root / f.path).read_bytes()
        assert (f.sha256, f.size) == (hashlib.sha256(content).hexdigest(), len(content))
    assert manifest.files[1].media_type == "text/html"
    assert manifest.match is not None and manifest.match["score"] == 0.97
    assert manifest.to_json()["captured_at"] == "2026-11-25T09:00:00.123456Z"
    assert bundle.manifest_sha256 == hashlib.sha256(manifest_bytes).hexdigest()


def test_manifest_bytes_are_canonical_and_reproducible(bundle: BundleInfo) -> None:
    raw = (bundle.path / "manifest.json").read_bytes()
    again = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert again.encode("utf-8") == raw
    assert parse_manifest(raw).to_bytes() == raw


def test_receipt_verifies_with_the_pure_ledger_functions(
    bundle: BundleInfo, ledger: Ledger
) -> None:
    receipt = (bundle.path / "manifest.json.tlog-proof").read_text()
    manifest = (bundle.path / "manifest.json").read_bytes()
    vkey = (bundle.path / "ledger.vkey").read_text().strip()
    assert vkey == ledger.vkey()
    checkpoint = verify_receipt(receipt, manifest, vkey)
    assert checkpoint.size == bundle.checkpoint_size == ledger.size()
    entry = ledger.entry(bundle.ledger_index)
    assert (entry.data, entry.entry_type) == (manifest, "evidence-bundle")


def test_bag_is_valid_for_the_bagit_library(bundle: BundleInfo) -> None:
    bag = bagit.Bag(str(bundle.path))
    bag.validate()
    assert bag.info["External-Identifier"] == bundle.bundle_id
    assert bag.info["Source-Organization"] == "Jane Doe Photography"


def test_files_are_read_only_and_no_temp_folder_remains(bundle: BundleInfo) -> None:
    for path in bundle.path.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o555 if path.is_dir() else 0o444)
    assert stat.S_IMODE(bundle.path.stat().st_mode) == 0o555
    assert [p.name for p in bundle.path.parent.iterdir()] == [bundle.bundle_id]


def test_readme_explains_by_hand_verification(bundle: BundleInfo) -> None:
    text = (bundle.path / "README.txt").read_text()
    assert "http://127.0.0.1:8000/gallery/" in text
    assert "sha256sum -c manifest-sha256.txt" in text
    assert "openssl pkeyutl -verify" in text
    assert "RFC 9162" in text


def test_pem_key_matches(bundle: BundleInfo, sqlite_workspace: Workspace) -> None:
    import base64

    pem = (bundle.path / "signing.pub.pem").read_text().splitlines()
    der = base64.b64decode(pem[1])
    assert der[-32:] == bytes(sqlite_workspace.signing_key().verify_key)


def test_failed_anchoring_leaves_nothing(
    sqlite_workspace: Workspace, evidence_files: list[EvidenceFile], ledger: Ledger, tmp_path: Path
) -> None:
    root = tmp_path / "bundles"
    size_before = ledger.size()
    with pytest.raises(BundleError, match="cannot read"):
        write_bundle(
            root=root,
            url="http://x/",
            captured_at=datetime.now(UTC),
            files=[
                *evidence_files,
                EvidenceFile(name="gone.bin", media_type="x/y", source=tmp_path / "nope"),
            ],
            match=None,
            capture={},
            signing_key=sqlite_workspace.signing_key(),
            ledger=ledger,
        )
    assert list(root.iterdir()) == []
    assert ledger.size() == size_before


def test_failure_after_anchoring_keeps_the_files(
    sqlite_workspace: Workspace,
    evidence_files: list[EvidenceFile],
    ledger: Ledger,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from copyseal.errors import LedgerError

    def broken(index: int) -> str:
        raise LedgerError("disk full")

    monkeypatch.setattr(ledger, "receipt", broken)
    root = tmp_path / "bundles"
    with pytest.raises(BundleError, match="anchored as ledger entry 0 but could not be completed"):
        write_bundle(
            root=root,
            url="http://x/",
            captured_at=datetime.now(UTC),
            files=evidence_files,
            match=None,
            capture={},
            signing_key=sqlite_workspace.signing_key(),
            ledger=ledger,
        )
    (kept,) = list(root.iterdir())
    assert kept.name.startswith(".failed-")
    manifest = (kept / "manifest.json").read_bytes()
    assert ledger.entry(0).data == manifest  # the anchored manifest's files are all kept
    assert len(list((kept / "data").rglob("*.png"))) == 2


def test_unsafe_and_duplicate_names_are_refused(
    sqlite_workspace: Workspace, ledger: Ledger, tmp_path: Path
) -> None:
    common = {
        "root": tmp_path / "b",
        "url": "http://x/",
        "captured_at": datetime.now(UTC),
        "match": None,
        "capture": {},
        "signing_key": sqlite_workspace.signing_key(),
        "ledger": ledger,
    }
    with pytest.raises(BundleError, match="not a safe relative path"):
        write_bundle(files=[EvidenceFile(name="../evil", media_type="x/y", data=b"1")], **common)  # type: ignore[arg-type]
    with pytest.raises(BundleError, match="not a safe relative path"):
        write_bundle(
            files=[EvidenceFile(name="images/01.w@2x", media_type="x/y", data=b"1")], **common
        )  # type: ignore[arg-type]
    with pytest.raises(BundleError, match="unique"):
        write_bundle(files=[EvidenceFile(name="a", media_type="x/y", data=b"1")] * 2, **common)  # type: ignore[arg-type]


def test_zip_export_is_reproducible_and_never_overwrites(
    bundle: BundleInfo, tmp_path: Path
) -> None:
    a = export_zip(bundle.path, tmp_path / "a.zip")
    b = export_zip(bundle.path, tmp_path / "b.zip")
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as zf:
        assert f"{bundle.bundle_id}/manifest.json" in zf.namelist()
    with pytest.raises(BundleError, match="refusing to overwrite"):
        export_zip(bundle.path, a)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_bundle_is_synced_before_it_appears(
    sqlite_workspace: Workspace,
    evidence_files: list[EvidenceFile],
    ledger: Ledger,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every file, the bundle folder and the folder of bundles are fsynced, so a bundle
    that was reported written survives a power cut (fsync(2), rename(2))."""
    synced: set[int] = set()
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.add(os.fstat(fd).st_ino)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    root = tmp_path / "bundles"
    info = write_bundle(
        root=root,
        url="http://x/",
        captured_at=datetime.now(UTC),
        files=evidence_files,
        match=None,
        capture={},
        signing_key=sqlite_workspace.signing_key(),
        ledger=ledger,
    )
    inodes = {p.stat().st_ino for p in info.path.rglob("*")} | {
        info.path.stat().st_ino,
        root.stat().st_ino,
    }
    assert inodes <= synced
    assert [p.name for p in root.iterdir()] == [info.bundle_id]


def test_the_files_are_synced_before_the_ledger_names_them(
    sqlite_workspace: Workspace,
    evidence_files: list[EvidenceFile],
    ledger: Ledger,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A ledger entry must never name a manifest whose files a power cut could still
    lose: the data files, the manifest and its signature are fsynced before the append."""
    synced: set[int] = set()
    at_append: set[int] = set()
    real_fsync, real_append = os.fsync, ledger.append

    def fsync(fd: int) -> None:
        synced.add(os.fstat(fd).st_ino)
        real_fsync(fd)

    def append(*args: Any, **kwargs: Any) -> Any:
        at_append.update(synced)
        return real_append(*args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(ledger, "append", append)
    info = write_bundle(
        root=tmp_path / "bundles",
        url="http://x/",
        captured_at=datetime.now(UTC),
        files=evidence_files,
        match=None,
        capture={},
        signing_key=sqlite_workspace.signing_key(),
        ledger=ledger,
    )
    before = [info.path / "manifest.json", info.path / "manifest.json.sig"]
    before += [p for p in (info.path / "data").rglob("*") if p.is_file()]
    assert len(before) > 2
    assert {p.stat().st_ino for p in before} <= at_append


class _Killed(BaseException):
    """Stands for SIGKILL: write_bundle handles errors, and nothing after this runs."""


def _killed(*args: Any, **kwargs: Any) -> Any:
    raise _Killed


def _write_until_killed(
    ws: Workspace, ledger: Ledger, files: list[EvidenceFile], root: Path
) -> Path:
    with pytest.raises(_Killed):
        write_bundle(
            root=root,
            url="http://x/",
            captured_at=datetime.now(UTC),
            files=files,
            match=None,
            capture={},
            signing_key=ws.signing_key(),
            ledger=ledger,
        )
    (staging,) = list(root.iterdir())
    assert staging.name.startswith(".") and ".partial-" in staging.name
    return staging


def test_a_bundle_logged_but_killed_before_its_rename_is_completed(
    sqlite_workspace: Workspace,
    evidence_files: list[EvidenceFile],
    ledger: Ledger,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from copyseal.bundle import writer

    root = tmp_path / "bundles"
    monkeypatch.setattr(writer, "publish_dir", _killed)
    staging = _write_until_killed(sqlite_workspace, ledger, evidence_files, root)
    monkeypatch.undo()
    manifest = (staging / "manifest.json").read_bytes()
    assert ledger.entry(ledger.size() - 1).data == manifest  # logged, but no bundle yet
    info = writer.complete_staged(
        staging, signing_key=sqlite_workspace.signing_key(), ledger=ledger
    )
    assert info is not None and info.ledger_index == ledger.size() - 1
    assert [p.name for p in root.iterdir()] == [info.bundle_id]
    assert (info.path / "manifest.json").read_bytes() == manifest
    bagit.Bag(str(info.path)).validate()
    receipt = (info.path / "manifest.json.tlog-proof").read_text()
    assert verify_receipt(receipt, manifest, ledger.vkey()).size == ledger.size()
    assert stat.S_IMODE(info.path.stat().st_mode) == 0o555


def test_a_staging_folder_never_logged_is_not_a_bundle(
    sqlite_workspace: Workspace,
    evidence_files: list[EvidenceFile],
    ledger: Ledger,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from copyseal.bundle import writer

    monkeypatch.setattr(ledger, "append", _killed)
    staging = _write_until_killed(sqlite_workspace, ledger, evidence_files, tmp_path / "b")
    monkeypatch.undo()
    assert ledger.size() == 0
    assert (
        writer.complete_staged(staging, signing_key=sqlite_workspace.signing_key(), ledger=ledger)
        is None
    )
    assert staging.is_dir()  # left alone: not evidence, not published
