"""MatchConfig: validation and building from a config.yaml mapping."""

from __future__ import annotations

import dataclasses

import pytest

from copyseal.errors import MatchError
from copyseal.match import MatchConfig


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
