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
    # The other checks of matches resting on outlines made lax: only colour is left.
    settings = workspace.settings
    lax = settings.model_copy(
        update={
            "match": settings.match.model_copy(
                update={"engine": {"weak_photometric": 0.0, "weak_coverage": 0.0}}
            )
        }
    )
    matcher = build_matcher(workspace.engine, lax, use_cache=False)
    colours = matcher.matcher.colours
    assert colours is not None

    got = colours.colour(record.work_id)
    fp = matcher.matcher.store.get(record.work_id)
    expected = work_colour(DecodedImage.from_array(shapes(12)), fp)
    assert got is not None and got.shape == expected.shape
    assert np.abs(got - expected).max() < 1.0  # the same pixels (PNG is lossless)

    # Another random_shapes picture whose outlines match this one's is refused on colour,
    # and a copy (a 60 % crop) is found.
    others = [jpeg(shapes(10327), 81), jpeg(shapes(10595), 85)]
    crop = jpeg(np.ascontiguousarray(shapes(12)[96:384, 128:512]), 85)
    assert [matcher.match(q) for q in others] == [[], []]
    [found] = matcher.match(crop)
    assert isinstance(found, Match) and found.work_id == record.work_id

    # An original that cannot be read: no colour, a warning naming the work, and the check
    # is then not made: the other pictures match (so colour refused them above), and the
    # copy is still found.
    kept = original_path(workspace, record.sha256)
    os.chmod(kept, 0o600)
    kept.write_bytes(b"not an image")
    blind = build_matcher(workspace.engine, lax, use_cache=False)
    assert blind.matcher.colours is not None
    with caplog.at_level(logging.WARNING, logger="copyseal.registry._colours"):
        assert blind.matcher.colours.colour(record.work_id) is None
    assert record.work_id in caplog.text
    assert all(blind.match(q) for q in others)
    [again] = blind.match(crop)
    assert isinstance(again, Match) and again.work_id == record.work_id
