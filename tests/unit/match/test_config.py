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
    strict = MatchConfig(query_fast_threshold=10)
    loose = MatchConfig(query_fast_threshold=4)
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
