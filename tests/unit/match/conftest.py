"""Shared fixtures of the matcher tests: real photos and their fingerprints, built once."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import skimage.data

from copyseal.match import (
    DecodedImage,
    FaissIndex,
    InMemoryStore,
    MatchConfig,
    Matcher,
    WorkFingerprint,
    fingerprint,
)


@pytest.fixture(scope="session")
def match_photos() -> dict[str, np.ndarray]:
    """Photos bundled in the scikit-image and scikit-learn wheels (no network)."""
    from sklearn.datasets import load_sample_image

    left, right, _ = skimage.data.stereo_motorcycle()
    return {
        "astronaut": skimage.data.astronaut(),
        "coffee": skimage.data.coffee(),
        "chelsea": skimage.data.chelsea(),
        "colorwheel": skimage.data.colorwheel(),
        "motorcycle_left": left,
        "motorcycle_right": right,
        "rocket": skimage.data.rocket(),
        "china": load_sample_image("china.jpg"),
    }


@pytest.fixture(scope="session")
def config() -> MatchConfig:
    return MatchConfig()


@pytest.fixture(scope="session")
def fingerprints(
    match_photos: dict[str, np.ndarray], config: MatchConfig
) -> dict[str, WorkFingerprint]:
    """Fingerprints of the registered works (rocket and china stay unregistered)."""
    names = ("astronaut", "coffee", "chelsea", "colorwheel", "motorcycle_left")
    return {n: fingerprint(DecodedImage.from_array(match_photos[n]), config=config) for n in names}


def _matcher_of(config: MatchConfig, works: dict[str, WorkFingerprint]) -> Matcher:
    store = InMemoryStore()
    m = Matcher(store=store, index=FaissIndex(), config=config)
    for work_id, fp in works.items():
        store.put(work_id, fp)
        m.add(work_id, fp)
    return m


@pytest.fixture(scope="session")
def matcher_of() -> Callable[[MatchConfig, dict[str, WorkFingerprint]], Matcher]:
    """Builds a matcher of its own over given works (work id -> fingerprint)."""
    return _matcher_of


@pytest.fixture(scope="module")
def matcher(fingerprints: dict[str, WorkFingerprint], config: MatchConfig) -> Matcher:
    """A matcher over those works, one per test module."""
    return _matcher_of(config, fingerprints)
