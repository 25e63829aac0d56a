"""The tile check's significance: a few chance agreements are not a match.

The false match of issue 14: a black-and-white ``binary_blobs`` pattern reported as a copy
of a coloured flat-shapes picture (8 inliers, 4 of 10 tiles agreeing: photometric 0.4, at
the threshold). Step edges correlate with any step edge of like orientation, so 4 of 10
tiles is what chance gives such pictures; the copies of the same picture stay found.
"""

from __future__ import annotations

import numpy as np
from skimage.data import binary_blobs
from skimage.draw import random_shapes

from copyseal.match import DecodedImage, FaissIndex, InMemoryStore, MatchConfig, Matcher
from copyseal.match import fingerprint as make_fingerprint
from copyseal.match._verify import Photometry, accepted, chance_agreement


def _photo(score: float, tiles: int) -> Photometry:
    return Photometry(score=score, displaced=0.0, tiles=tiles, matrix=np.eye(3))


def test_chance_agreement_is_the_binomial_tail() -> None:
    cfg = MatchConfig()
    assert chance_agreement(_photo(0.4, 10), cfg) > 0.1  # the false match: 4 of 10
    assert chance_agreement(_photo(5 / 7, 7), cfg) < 0.005  # weakest copy measured
    assert chance_agreement(_photo(0.0, 0), cfg) == 1.0
    assert not accepted(_photo(0.4, 10), cfg, minimum=0.4)
    assert accepted(_photo(6 / 9, 9), cfg, minimum=0.4)
    assert not accepted(_photo(0.3, 90), cfg, minimum=0.4)  # significant but too weak


def test_blobs_are_not_the_coloured_shapes_picture_but_its_copies_are() -> None:
    cfg = MatchConfig()
    shapes, _ = random_shapes(
        (480, 640), max_shapes=12, min_size=30, max_size=200, rng=41, channel_axis=-1
    )
    store = InMemoryStore()
    matcher = Matcher(store=store, index=FaissIndex(), config=cfg)
    fp = make_fingerprint(DecodedImage.from_array(np.ascontiguousarray(shapes)), config=cfg)
    store.put("shapes", fp)
    matcher.add("shapes", fp)
    blobs = binary_blobs(length=600, blob_size_fraction=0.2, volume_fraction=0.6, rng=4)
    assert matcher.match(DecodedImage.from_array(blobs.astype(np.uint8) * 255)) == []
    crop = np.ascontiguousarray(shapes[40:400, 60:560][:, ::-1])
    (found,) = matcher.match(DecodedImage.from_array(crop))
    assert found.work_id == "shapes" and found.score > 0.3
