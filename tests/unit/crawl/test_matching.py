"""The crawler's default matcher: the workspace matcher, cheap when nothing is indexed."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from copyseal.errors import CopysealError
from copyseal.registry import WorkRecord, build_matcher, register_paths
from copyseal.workspace import Workspace


def _jpeg(pixels: np.ndarray, **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", **kw)  # type: ignore[arg-type]
    return buf.getvalue()


def test_an_empty_index_still_decodes_and_finds_nothing(
    workspace: Workspace, photos: dict[str, np.ndarray]
) -> None:
    matcher = build_matcher(workspace.engine, workspace.settings)
    assert list(matcher.match(_jpeg(photos["astronaut"], quality=80))) == []
    with pytest.raises(CopysealError):  # unusable bytes fail as with works registered
        matcher.match(b"<html>not an image</html>")


def test_with_works_exact_and_edited_copies_are_found(
    workspace: Workspace, photo_files: dict[str, Path], photos: dict[str, np.ndarray]
) -> None:
    (record,) = register_paths(workspace, [photo_files["astronaut"]])
    assert isinstance(record, WorkRecord)
    matcher = build_matcher(workspace.engine, workspace.settings)
    (exact,) = matcher.match(photo_files["astronaut"].read_bytes())
    assert exact.work_id == record.work_id and exact.to_json()["method"] == "exact-sha256"
    edited = _jpeg(np.ascontiguousarray(photos["astronaut"][40:400, 60:460][:, ::-1]), quality=60)
    (found,) = matcher.match(edited)
    assert found.work_id == record.work_id and found.to_json()["method"] != "exact-sha256"
