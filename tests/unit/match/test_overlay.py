"""render_overlay: a PNG with both images, the region outlined and inlier lines."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from copyseal.match import (
    DecodedImage,
    FaissIndex,
    InMemoryStore,
    Match,
    MatchConfig,
    Matcher,
    WorkFingerprint,
    render_overlay,
)


@pytest.fixture(scope="module")
def found(
    fingerprints: dict[str, WorkFingerprint], config: MatchConfig, match_photos: dict
) -> tuple[np.ndarray, Match]:
    store = InMemoryStore()
    m = Matcher(store=store, index=FaissIndex(), config=config)
    store.put("coffee", fingerprints["coffee"])
    m.add("coffee", fingerprints["coffee"])
    query = np.full((500, 800, 3), 255, np.uint8)
    query[50:450, 100:700] = match_photos["coffee"]
    (match,) = m.match(DecodedImage.from_array(query))
    return query, match


def test_overlay_is_a_png_of_both_images(
    found: tuple[np.ndarray, Match], match_photos: dict
) -> None:
    query, match = found
    png = render_overlay(match_photos["coffee"], query, match, height=300)
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG"
    w_work = round(600 * 300 / 400)
    w_query = round(800 * 300 / 500)
    assert img.size == (w_work + 16 + w_query, 300 + 28)


def test_overlay_draws_region_and_lines(
    found: tuple[np.ndarray, Match], match_photos: dict
) -> None:
    query, match = found
    assert len(match.inlier_pairs) > 10
    plain = Match(**{**match.__dict__, "inlier_pairs": (), "region": ()})
    a = np.asarray(Image.open(io.BytesIO(render_overlay(match_photos["coffee"], query, match))))
    b = np.asarray(Image.open(io.BytesIO(render_overlay(match_photos["coffee"], query, plain))))
    assert a.shape == b.shape
    changed = np.any(a != b, axis=2)
    assert changed.mean() > 0.005  # outline and lines drawn
    # The outline is drawn where the work sits in the query (its left edge, x = 100).
    h = 480
    x_query = round(600 * h / 400) + 16 + round(100 * h / 500)
    assert changed[h // 2, x_query - 3 : x_query + 4].any()


def test_overlay_is_deterministic(found: tuple[np.ndarray, Match], match_photos: dict) -> None:
    query, match = found
    assert render_overlay(match_photos["coffee"], query, match) == render_overlay(
        DecodedImage.from_array(match_photos["coffee"]), DecodedImage.from_array(query), match
    )
