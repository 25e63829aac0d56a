"""The local evidence store: today's folder layout, chosen by ``workspace.evidence_dir``."""

from __future__ import annotations

from pathlib import Path

import pytest

from copyseal.config import load_settings
from copyseal.errors import ConfigError, EvidenceStoreError
from copyseal.storage import Area, LocalEvidenceStore, open_store
from copyseal.workspace import Workspace


def _settings(tmp_path: Path, evidence_dir: str, env: dict[str, str] | None = None) -> Workspace:
    config = tmp_path / "config.yaml"
    config.write_text(f"workspace:\n  evidence_dir: '{evidence_dir}'\n", encoding="utf-8")
    return Workspace.open(load_settings(config, env=env or {}))


def test_the_layout_is_the_evidence_folder_as_it_always_was(tmp_path: Path) -> None:
    store = LocalEvidenceStore(root=tmp_path / "evidence")
    layout = {area: store.folder(area).relative_to(store.root).as_posix() for area in Area}
    assert layout == {
        Area.BUNDLES: "bundles",
        Area.WORKS: "works",
        Area.EXPORTS: "exports",
        Area.EXPORT_RECEIPTS: "exports/receipts",
        Area.INDEX: "index",
        Area.CAPTURES: ".captures",
        Area.DEMO: "demo",
        Area.ANCHORS: "anchors",
    }


def test_a_path_or_a_file_url_names_the_same_folder(tmp_path: Path) -> None:
    folder = tmp_path / "shared evidence"
    by_path = _settings(tmp_path, str(folder))
    by_url = _settings(tmp_path, folder.as_uri())  # a percent-encoded space
    assert by_path.settings.workspace.evidence_dir == folder
    assert by_url.settings.workspace.evidence_dir == folder
    assert by_url.store.folder(Area.BUNDLES) == folder / "bundles"
    assert by_url.store.url == by_path.store.url == folder.as_uri()
    assert open_store(f"file://localhost{folder}").url == folder.as_uri()


def test_a_relative_folder_is_the_config_files_neighbour(tmp_path: Path) -> None:
    ws = _settings(tmp_path, "evidence")
    assert ws.store.folder(Area.WORKS) == tmp_path / "evidence" / "works"
    assert ws.store is ws.store  # built once per workspace
    assert str(tmp_path / "evidence") in ws.store.describe()


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("file://nas.example/evidence", "on another host; mount it"),
        ("file:evidence", "names one absolute path"),
        ("s3://bucket/evidence", "no evidence store for the scheme 's3'"),
    ],
)
def test_bad_locations_are_refused_naming_the_key(
    tmp_path: Path, location: str, message: str
) -> None:
    with pytest.raises(EvidenceStoreError, match=message):
        open_store(location)
    with pytest.raises(ConfigError, match=rf"workspace\.evidence_dir.*{message}"):
        _settings(tmp_path, location)
    with pytest.raises(ConfigError, match=r"COPYSEAL_WORKSPACE__EVIDENCE_DIR"):
        _settings(tmp_path, "evidence", env={"COPYSEAL_WORKSPACE__EVIDENCE_DIR": location})


def test_a_staging_folder_must_be_the_stores_own(tmp_path: Path) -> None:
    store = LocalEvidenceStore(root=tmp_path / "evidence")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(EvidenceStoreError, match="not a staging folder"):
        store.publish_dir(elsewhere, Area.BUNDLES, "b")
    other = store.staging(Area.BUNDLES, "a")
    with pytest.raises(EvidenceStoreError, match="not a staging folder"):
        store.publish_dir(other, Area.BUNDLES, "b")
    assert elsewhere.is_dir() and other.is_dir() and store.names(Area.BUNDLES) == []
