from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from copyseal.errors import RegistrationError
from copyseal.registry import (
    RegistrationFailure,
    WorkRecord,
    iter_image_files,
    list_works,
    register_paths,
    remove_work,
    work_id_for,
)
from copyseal.workspace import Workspace


def test_register_real_photos_and_list(workspace: Workspace, photo_files: dict[str, Path]) -> None:
    results = list(
        register_paths(workspace, [photo_files["astronaut"], photo_files["coffee"]], owner="Jane")
    )
    assert all(isinstance(r, WorkRecord) and r.new for r in results)
    astronaut = results[0]
    assert isinstance(astronaut, WorkRecord)
    digest = hashlib.sha256(photo_files["astronaut"].read_bytes()).hexdigest()
    assert (astronaut.sha256, astronaut.work_id) == (digest, work_id_for(digest))
    assert (astronaut.width, astronaut.height, astronaut.format) == (512, 512, "JPEG")
    assert (astronaut.owner, astronaut.title) == ("Jane", "astronaut")
    assert results[1].format == "PNG"  # type: ignore[union-attr]
    listed = list_works(workspace)
    assert [w.work_id for w in listed] == [r.work_id for r in results]  # type: ignore[union-attr]


def test_same_bytes_same_work_id_and_nothing_new(
    workspace: Workspace, photo_files: dict[str, Path], tmp_path: Path
) -> None:
    copy = tmp_path / "renamed.bin"
    copy.write_bytes(photo_files["chelsea"].read_bytes())
    first, again = (list(register_paths(workspace, [p])) for p in (photo_files["chelsea"], copy))
    assert first[0].work_id == again[0].work_id  # type: ignore[union-attr]
    assert again[0].new is False  # type: ignore[union-attr]
    assert len(list_works(workspace)) == 1


def test_bad_files_are_reported_and_the_batch_goes_on(
    workspace: Workspace, photo_files: dict[str, Path], tmp_path: Path
) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "text.png"
    text.write_text("not an image")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(photo_files["rocket"].read_bytes()[:5000])
    paths = [empty, photo_files["rocket"], text, truncated, tmp_path / "missing.jpg"]
    results = list(register_paths(workspace, paths))
    errors = {Path(r.path).name: r.error for r in results if isinstance(r, RegistrationFailure)}
    assert errors == {
        "empty.jpg": "empty file (zero bytes)",
        "text.png": "not an image (unrecognised content, 12 bytes)",
        "truncated.jpg": errors["truncated.jpg"],
        "missing.jpg": "no such file",
    }
    assert "truncated" in errors["truncated.jpg"]
    assert [w.title for w in list_works(workspace)] == ["rocket"]


def test_pixel_and_byte_limits(workspace: Workspace, tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    Image.new("RGB", (3000, 3000)).save(big)
    settings = workspace.settings.model_copy(
        update={"match": workspace.settings.match.model_copy(update={"max_pixels": 1_000_000})}
    )
    limited = Workspace.open(settings)
    try:
        (result,) = register_paths(limited, [big])
        assert isinstance(result, RegistrationFailure)
        assert "3000x3000" in result.error and "1000000" in result.error
    finally:
        limited.close()


def test_remove_and_restore(workspace: Workspace, photo_files: dict[str, Path]) -> None:
    (rec,) = register_paths(workspace, [photo_files["flower"]])
    assert isinstance(rec, WorkRecord)
    removed = remove_work(workspace, rec.work_id)
    assert removed.removed_at is not None
    assert list_works(workspace) == []
    assert [w.work_id for w in list_works(workspace, include_removed=True)] == [rec.work_id]
    with pytest.raises(RegistrationError, match=f"work {rec.work_id}: no such registered work"):
        remove_work(workspace, rec.work_id)
    (again,) = register_paths(workspace, [photo_files["flower"]])
    assert isinstance(again, WorkRecord) and again.removed_at is None
    assert [w.work_id for w in list_works(workspace)] == [rec.work_id]


def test_folders_are_walked_recursively_skipping_hidden(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    for rel in ("a/1.jpg", "a/b/2.PNG", "a/notes.txt", ".hidden/3.jpg", "a/.4.jpg"):
        (tmp_path / rel).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_image_files([tmp_path])]
    assert found == ["a/1.jpg", "a/b/2.PNG"]
    # A file named explicitly is always tried, whatever its suffix.
    assert list(iter_image_files([tmp_path / "a" / "notes.txt"])) == [tmp_path / "a" / "notes.txt"]


def test_registration_keeps_the_original_fingerprints_and_anchors(
    workspace: Workspace, photo_files: dict[str, Path]
) -> None:
    import sqlalchemy as sa

    from copyseal.ledger import verify_receipt
    from copyseal.ledger.statements import load_statement
    from copyseal.match.rights import RightsMetadata
    from copyseal.registry import original_path

    results = list(
        register_paths(workspace, [photo_files["china"], photo_files["rocket"]], owner="Jane")
    )
    records = [r for r in results if isinstance(r, WorkRecord)]
    assert [r.ledger_index for r in records] == [0, 1]
    ledger = workspace.ledger()
    for rec, path in zip(records, [photo_files["china"], photo_files["rocket"]], strict=True):
        kept = original_path(workspace, rec.sha256)
        # Where every workspace has kept them (a layout existing workspaces rely on).
        assert kept == workspace.settings.workspace.evidence_dir / "works" / rec.sha256
        assert kept.read_bytes() == path.read_bytes()
        assert kept.stat().st_mode & 0o222 == 0
        assert rec.ledger_index is not None
        entry = ledger.entry(rec.ledger_index)
        statement = load_statement(entry.data)
        with workspace.engine.connect() as conn:
            digest = conn.execute(
                sa.text("select digest from work_fingerprints where work_id = :w"),
                {"w": rec.work_id},
            ).scalar_one()
        assert statement == {
            "type": "work-registration",
            "work_id": rec.work_id,
            "owner": "Jane",
            "title": path.stem,
            "original_sha256": rec.sha256,
            "fingerprints_digest": digest,
            "time": statement["time"],
            # The digest of the rights metadata read at registration (none in these files).
            "rights_sha256": RightsMetadata.from_json(rec.rights_metadata or {}).digest(),
        }
        assert rec.rights_metadata == {"fields": {}, "c2pa": "absent", "warnings": []}
        verify_receipt(ledger.receipt(rec.ledger_index), entry.data, ledger.vkey())
    # Registering again appends nothing.
    size = ledger.size()
    list(register_paths(workspace, [photo_files["china"]]))
    assert ledger.size() == size


def test_an_original_kept_meanwhile_by_another_machine_is_no_error(
    workspace: Workspace, photo_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two machines sharing one evidence store register the same bytes at once: the
    second finds the original kept (by its SHA-256) and registers the work all the same."""
    from copyseal.registry import original_path
    from copyseal.storage import LocalEvidenceStore

    publish = LocalEvidenceStore.publish_bytes

    def racing(self: LocalEvidenceStore, *args: Any, **kwargs: Any) -> Path:
        publish(self, *args, **kwargs)  # the other machine wins the race
        return publish(self, *args, **kwargs)

    monkeypatch.setattr(LocalEvidenceStore, "publish_bytes", racing)
    (rec,) = register_paths(workspace, [photo_files["flower"]])
    assert isinstance(rec, WorkRecord) and rec.new
    assert original_path(workspace, rec.sha256).read_bytes() == photo_files["flower"].read_bytes()


def test_anchor_pending_catches_up_after_a_crash(
    workspace: Workspace, photo_files: dict[str, Path]
) -> None:
    import sqlalchemy as sa

    from copyseal.registry import anchor_pending

    (rec,) = register_paths(workspace, [photo_files["coffee"]])
    assert isinstance(rec, WorkRecord) and rec.ledger_index == 0
    # Simulate a crash between committing a work and anchoring it.
    with workspace.engine.begin() as conn:
        conn.execute(sa.text("update works set ledger_index = null"))
    # The statement is already in the log: it is found, not appended twice.
    assert anchor_pending(workspace) == 1
    assert anchor_pending(workspace) == 0
    (again,) = list_works(workspace)
    assert again.ledger_index == 0
    assert workspace.ledger().size() == 1
