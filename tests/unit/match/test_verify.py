"""The tile check's significance: a few chance agreements are not a match.

The false match of issue 14: a black-and-white ``binary_blobs`` pattern reported as a copy
of a coloured flat-shapes picture (8 inliers, 4 of 10 tiles agreeing: photometric 0.4, at
the threshold). Step edges correlate with any step edge of like orientation, so 4 of 10
tiles is what chance gives such pictures; the copies of the same picture stay found.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage.data import binary_blobs
from skimage.draw import random_shapes

from copyseal.match import DecodedImage, FaissIndex, InMemoryStore, MatchConfig, Matcher
from copyseal.match import fingerprint as make_fingerprint
from copyseal.match._verify import Photometry, accepted, chance_agreement


def _photo(score: float, tiles: int, distinct: int = 1) -> Photometry:
    return Photometry(score=score, displaced=0.0, tiles=tiles, matrix=np.eye(3), distinct=distinct)


def test_chance_agreement_is_the_binomial_tail() -> None:
    cfg = MatchConfig()
    assert chance_agreement(_photo(0.4, 10), cfg) > 0.1  # the false match: 4 of 10
    assert chance_agreement(_photo(5 / 7, 7), cfg) < 0.005  # weakest copy measured
    assert chance_agreement(_photo(0.0, 0), cfg) == 1.0
    assert not accepted(_photo(0.4, 10), cfg, minimum=0.4)
    assert accepted(_photo(6 / 9, 9), cfg, minimum=0.4)
    assert not accepted(_photo(0.3, 90), cfg, minimum=0.4)  # significant but too weak
    assert not accepted(_photo(1.0, 17, distinct=0), cfg, minimum=0.4)  # one shape's outline


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


def _logo() -> np.ndarray:
    """A flat logo (a disc with letters on a flat background), as ``match_negatives.py``
    draws its logo #56, sent as JPEG quality 92 like there."""
    im = Image.new("RGB", (307, 297), (183, 177, 227))
    d = ImageDraw.Draw(im)
    cx, cy, r = 153, 148, 99
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(169, 41, 244))
    d.text(
        (cx - r // 2, cy - r // 4),
        "DGM",
        font=ImageFont.load_default(size=49),
        fill=(146, 114, 177),
    )
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=92)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def test_a_logo_is_not_the_picture_holding_the_same_disc_but_a_crop_of_it_is() -> None:
    """Issue 14 (``match_negatives.py``): a disc logo matched the like disc of a
    coloured-shapes picture with 17 of 17 tiles agreeing, every one a piece of the disc's
    outline. The tiles of a crop of the picture include corners and junctions."""
    cfg = MatchConfig()
    work, _ = random_shapes(
        (480, 640), max_shapes=12, min_size=30, max_size=200, rng=19, channel_axis=-1
    )
    store = InMemoryStore()
    matcher = Matcher(store=store, index=FaissIndex(), config=cfg)
    fp = make_fingerprint(DecodedImage.from_array(np.ascontiguousarray(work)), config=cfg)
    store.put("shapes19", fp)
    matcher.add("shapes19", fp)
    assert matcher.match(DecodedImage.from_array(_logo())) == []
    crop = np.ascontiguousarray(work[150:480, 0:440])
    (found,) = matcher.match(DecodedImage.from_array(crop))
    assert found.work_id == "shapes19"
