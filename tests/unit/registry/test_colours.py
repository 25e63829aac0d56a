"""The works' colours for the matcher's colour check, read from the kept originals."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from copyseal.match import DecodedImage, Match, work_colour
from copyseal.registry import WorkRecord, build_matcher, register_paths
from copyseal.registry._works import original_path
from copyseal.workspace import Workspace
from shapes_pictures import jpeg, shapes


def test_colours_come_from_the_kept_original_and_refuse_a_like_shape(
    workspace: Workspace, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "shapes12.png"
    Image.fromarray(shapes(12)).save(path)
    [record] = register_paths(workspace, [path])
    assert isinstance(record, WorkRecord)
    matcher = build_matcher(workspace.engine, workspace.settings, use_cache=False)
    colours = matcher.matcher.colours
    assert colours is not None

    got = colours.colour(record.work_id)
    fp = matcher.matcher.store.get(record.work_id)
    expected = work_colour(DecodedImage.from_array(shapes(12)), fp)
    assert got is not None and got.shape == expected.shape
    assert np.abs(got - expected).max() < 1.0  # the same pixels (PNG is lossless)

    # Another random_shapes picture whose outlines alone matched this one (it is refused on
    # colour when the other checks are lax), and a copy (a 60 % crop), which is found.
    other = jpeg(shapes(10595), 85)
    work = shapes(12)
    crop = jpeg(np.ascontiguousarray(work[96:384, 128:512]), 85)
    assert matcher.match(other) == []
    [found] = matcher.match(crop)
    assert isinstance(found, Match) and found.work_id == record.work_id

    # An original that cannot be read: no colour, one warning naming the work, and the
    # check is then not made (the copy is still found).
    kept = original_path(workspace, record.sha256)
    os.chmod(kept, 0o600)
    kept.write_bytes(b"not an image")
    fresh = build_matcher(workspace.engine, workspace.settings, use_cache=False)
    assert fresh.matcher.colours is not None
    with caplog.at_level(logging.WARNING, logger="copyseal.registry._colours"):
        assert fresh.matcher.colours.colour(record.work_id) is None
    assert record.work_id in caplog.text
    [again] = fresh.matcher.match(crop)
    assert isinstance(again, Match) and again.work_id == record.work_id
