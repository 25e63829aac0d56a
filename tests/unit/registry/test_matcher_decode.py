"""The workspace matcher decodes a large JPEG reduced for matching only: registration,
``decode`` (evidence, overlays) and every reported size stay in the original's pixels."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from copyseal.match import Match, MatchConfig, decode
from copyseal.registry import ExactMatch, WorkRecord, build_matcher, register_paths
from copyseal.workspace import Workspace

_W, _H = 3200, 2128


def _jpeg(pixels: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def test_large_jpeg_is_matched_reduced_and_reported_in_original_pixels(
    workspace: Workspace, tmp_path: Path, photos: dict[str, np.ndarray]
) -> None:
    big = np.asarray(cv2.resize(photos["chelsea"], (_W, _H), interpolation=cv2.INTER_CUBIC))
    original = _jpeg(big, 92)
    path = tmp_path / "big_chelsea.jpg"
    path.write_bytes(original)
    [record] = register_paths(workspace, [path])
    assert isinstance(record, WorkRecord)
    assert (record.width, record.height) == (_W, _H)  # registered from full pixels

    matcher = build_matcher(workspace.engine, workspace.settings, use_cache=False)
    # Evidence and overlays decode through ``decode``: full pixels, never reduced.
    full = matcher.decode(original)
    assert full.scale == 1.0 and full.rgb.shape == (_H, _W, 3)

    [exact] = matcher.match(original)
    assert isinstance(exact, ExactMatch) and (exact.width, exact.height) == (_W, _H)

    # A recompressed copy: found perceptually, its region the whole original image,
    # exactly what the reduced decode gives (1/2 scale: 1600 px >= decode_side 1536).
    copy = _jpeg(big, 60)
    reduced = decode(copy, max_pixels=10**8, reduce_to=MatchConfig().decode_side)
    assert reduced.scale == 0.5
    [found] = matcher.match(copy, name="copy.jpg")
    assert [found] == matcher.match_image(reduced)
    assert isinstance(found, Match) and found.work_id == record.work_id
    xs, ys = zip(*found.region, strict=True)
    box = np.array([min(xs), min(ys), max(xs), max(ys)])
    assert np.abs(box - [0, 0, _W, _H]).max() < 0.01 * _W
    assert abs(found.transform.scale - 1) < 0.02
