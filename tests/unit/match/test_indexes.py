"""Every retrieval index backend passes the seam's conformance kit; the table and the
configuration name the same backends."""

from __future__ import annotations

import typing
from pathlib import Path

import numpy as np
import pytest

from copyseal.config import MatchSettings
from copyseal.errors import MatchError
from copyseal.match import (
    INDEXES,
    DecodedImage,
    MatchConfig,
    WorkFingerprint,
    fingerprint,
    index_class,
)

from .index_conformance import CHECKS


@pytest.fixture(scope="module")
def others(match_photos: dict[str, np.ndarray], config: MatchConfig) -> dict[str, WorkFingerprint]:
    """Fingerprints of the photos that are never registered."""
    return {
        n: fingerprint(DecodedImage.from_array(match_photos[n]), config=config)
        for n in ("rocket", "china")
    }


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("name", sorted(INDEXES))
def test_conformance(
    name: str,
    check: str,
    fingerprints: dict[str, WorkFingerprint],
    others: dict[str, WorkFingerprint],
    tmp_path: Path,
) -> None:
    CHECKS[check](INDEXES[name], fingerprints=fingerprints, others=others, tmp_path=tmp_path)


def test_the_kit_has_every_check() -> None:
    assert len(CHECKS) >= 10
    assert {"save_and_load_round_trip", "remove_hides_a_work", "empty_index_finds_nothing"} <= set(
        CHECKS
    )


def test_the_kit_fails_a_broken_index(
    fingerprints: dict[str, WorkFingerprint], others: dict[str, WorkFingerprint], tmp_path: Path
) -> None:
    """An index that forgets removals is caught (so the kit can fail)."""
    base = INDEXES["faiss"]

    class Forgetful(base):  # type: ignore[valid-type,misc]
        def remove(self, work_id: str) -> None:
            pass

    with pytest.raises(AssertionError):
        CHECKS["remove_hides_a_work"](Forgetful, fingerprints=fingerprints, others=others)


def test_config_names_every_backend() -> None:
    """``match.index`` accepts exactly the backends of the table."""
    annotation = MatchSettings.model_fields["index"].annotation
    assert set(typing.get_args(annotation)) == set(INDEXES)
    assert MatchSettings().index in INDEXES


def test_unknown_backend_names_the_known_ones() -> None:
    assert index_class("faiss") is INDEXES["faiss"]
    with pytest.raises(MatchError, match=r"unknown retrieval index 'annoy' \(known: faiss\)"):
        index_class("annoy")
