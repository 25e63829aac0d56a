"""MatchConfig: validation and building from a config.yaml mapping."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from copyseal.errors import MatchError
from copyseal.match import DecodedImage, MatchConfig, fingerprint
from copyseal.match._features import prepare_query


def test_defaults_are_frozen() -> None:
    cfg = MatchConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.min_inliers = 3  # type: ignore[misc]


def test_from_mapping() -> None:
    cfg = MatchConfig.from_mapping({"min_inliers": 20, "hash_windows": [0.5]})
    assert cfg.min_inliers == 20 and cfg.hash_windows == (0.5,)


def test_unknown_keys_are_named() -> None:
    with pytest.raises(MatchError, match="unknown match settings: min_inlier"):
        MatchConfig.from_mapping({"min_inlier": 20})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"min_inliers": -1}, "match.min_inliers must not be negative"),
        ({"ratio": 1.5}, r"match.ratio must be in \(0, 1\]"),
        ({"retrieval_features": 5000}, "cannot exceed match.work_features"),
        ({"work_min_side": 600}, "match.work_min_side cannot exceed match.work_side"),
        ({"thumb_min_side": 300}, "match.thumb_min_side cannot exceed match.thumb_side"),
    ],
)
def test_invalid_values(values: dict[str, object], message: str) -> None:
    with pytest.raises(MatchError, match=message):
        MatchConfig.from_mapping(values)


def test_keyword_only() -> None:
    with pytest.raises(TypeError):
        MatchConfig(100)  # type: ignore[misc]


def test_every_field_is_documented() -> None:
    doc = MatchConfig.__doc__ or ""
    for f in dataclasses.fields(MatchConfig):
        assert f"{f.name}:" in doc, f"MatchConfig.{f.name} needs a docstring entry"


def test_query_fast_threshold_applies_to_sparse_queries_only() -> None:
    # A ramp with faint blobs: no FAST corner at 10, some at 4.
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:400, 0:400]
    grey = 120 + 0.05 * xx + 8 * np.sin(xx / 9.0) * np.cos(yy / 11.0) + rng.normal(0, 1, xx.shape)
    rgb = np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    # faint_sparse=0: only the second detection (query_fast_threshold) is under test here.
    strict = MatchConfig(query_fast_threshold=10, faint_sparse=0)
    loose = MatchConfig(query_fast_threshold=4, faint_sparse=0)
    assert len(prepare_query(rgb, strict).keypoints) < loose.query_sparse
    assert len(prepare_query(rgb, loose).keypoints) > len(prepare_query(rgb, strict).keypoints)
    # Works keep fast_threshold.
    image = DecodedImage.from_array(rgb)
    a, b = fingerprint(image, config=strict), fingerprint(image, config=loose)
    assert np.array_equal(a.points, b.points) and np.array_equal(a.descriptors, b.descriptors)
    # A textured query has query_sparse keypoints at fast_threshold: detected once.
    photo = rng.integers(0, 256, (400, 400, 3), dtype=np.uint8)  # noise: corners everywhere
    assert np.array_equal(
        prepare_query(photo, strict).features.points, prepare_query(photo, loose).features.points
    )


def test_a_nearly_featureless_query_is_detected_a_third_time_at_faint_threshold() -> None:
    # A 41 px corner of scikit-image's microaneurysms (blurred, mid-grey) enlarged to
    # query_min_side: under faint_sparse keypoints at query_fast_threshold.
    import skimage.data

    rgb = np.repeat(skimage.data.microaneurysms()[10:51, 40:81, None], 3, axis=2)
    off = MatchConfig(faint_sparse=0)
    on = MatchConfig()
    few = len(prepare_query(rgb, off).keypoints)
    assert few < on.faint_sparse
    assert len(prepare_query(rgb, on).keypoints) > 2 * few
    # A query with faint_sparse keypoints at query_fast_threshold is not detected again.
    assert np.array_equal(
        prepare_query(rgb, MatchConfig(faint_sparse=few)).features.points,
        prepare_query(rgb, off).features.points,
    )
    # Nor is one enlarged less than faint_min_scale times (here 512 / 300 = 1.7).
    import cv2

    big = cv2.resize(rgb, (300, 300), interpolation=cv2.INTER_CUBIC)
    assert len(prepare_query(big, off).keypoints) < on.faint_sparse
    assert np.array_equal(
        prepare_query(big, on).features.points, prepare_query(big, off).features.points
    )
    assert len(prepare_query(big, MatchConfig(faint_min_scale=1.5)).keypoints) > len(
        prepare_query(big, off).keypoints
    )
