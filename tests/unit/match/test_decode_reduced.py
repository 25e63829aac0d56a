"""Decoding a large JPEG reduced for matching: never below the size asked for, the
original's size and orientation reported, matches in the original's pixels."""

from __future__ import annotations

import io
import math

import cv2
import numpy as np
import pytest
import skimage.data
from PIL import Image

from copyseal.errors import DecodeError, MatchError
from copyseal.match import (
    DecodedImage,
    Match,
    MatchConfig,
    Matcher,
)
from copyseal.match.decode import decode

LIMIT = 50_000_000


def _encode(rgb: np.ndarray, fmt: str = "JPEG", **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def big_chelsea() -> np.ndarray:
    """A real photo upscaled to 3000 x 1995 (about 6 megapixels)."""
    return np.asarray(
        cv2.resize(skimage.data.chelsea(), (3000, 1995), interpolation=cv2.INTER_CUBIC)
    )


@pytest.fixture(scope="module")
def big_jpeg(big_chelsea: np.ndarray) -> bytes:
    return _encode(big_chelsea, quality=90)


@pytest.mark.parametrize(
    ("reduce_to", "scale"),
    [(1024, 0.5), (700, 0.25), (300, 0.125), (1501, 1.0), (5000, 1.0)],
)
def test_jpeg_decodes_at_the_smallest_scale_still_large_enough(
    big_jpeg: bytes, big_chelsea: np.ndarray, reduce_to: int, scale: float
) -> None:
    img = decode(big_jpeg, max_pixels=LIMIT, name="big.jpg", reduce_to=reduce_to)
    assert img.scale == scale
    assert (img.width, img.height) == (3000, 1995)  # the original's, as before
    assert img.rgb.shape == (math.ceil(1995 * scale), math.ceil(3000 * scale), 3)
    assert max(img.rgb.shape[:2]) >= min(reduce_to, 3000)
    # The same picture: the full decode shrunk to that size differs only by JPEG noise.
    h, w = img.rgb.shape[:2]
    shrunk = cv2.resize(big_chelsea, (w, h), interpolation=cv2.INTER_AREA)
    assert np.abs(img.rgb.astype(int) - shrunk).mean() < 4


def test_reduced_decode_keeps_the_facts_of_the_bytes(big_jpeg: bytes) -> None:
    full = decode(big_jpeg, max_pixels=LIMIT)
    small = decode(big_jpeg, max_pixels=LIMIT, reduce_to=1024)
    assert full.scale == 1.0 and full.rgb.shape == (1995, 3000, 3)
    assert (small.sha256, small.size, small.format, small.n_frames) == (
        full.sha256,
        full.size,
        "JPEG",
        1,
    )
    assert small.rgb.shape[1] < full.rgb.shape[1]


def test_exif_orientation_is_applied_to_the_reduced_pixels() -> None:
    arr = np.zeros((1000, 2400, 3), np.uint8)
    arr[:, :1200] = (255, 0, 0)  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    data = _encode(arr, quality=95, exif=exif.tobytes())
    img = decode(data, max_pixels=LIMIT, reduce_to=600)
    assert img.scale == 0.25
    assert (img.width, img.height) == (1000, 2400)  # the original, as displayed
    assert img.rgb.shape == (600, 250, 3)
    assert img.rgb[100, 125, 0] > 200 and img.rgb[500, 125, 0] < 60  # red now on top


def test_pixel_limit_is_checked_on_the_header_not_the_reduced_size(big_jpeg: bytes) -> None:
    with pytest.raises(DecodeError, match=r"big\.jpg: decompression bomb refused: 3000x1995"):
        decode(big_jpeg, max_pixels=3_000_000, name="big.jpg", reduce_to=300)


def test_mpo_is_reduced_like_jpeg(big_chelsea: np.ndarray) -> None:
    buf = io.BytesIO()
    Image.fromarray(big_chelsea).save(
        buf, format="MPO", save_all=True, append_images=[Image.fromarray(big_chelsea[:64, :64])]
    )
    img = decode(buf.getvalue(), max_pixels=LIMIT, reduce_to=1024)
    assert (img.format, img.scale, img.width, img.height) == ("JPEG", 0.5, 3000, 1995)
    assert img.rgb.shape == (998, 1500, 3)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_other_formats_are_not_reduced(big_chelsea: np.ndarray, fmt: str) -> None:
    data = _encode(big_chelsea[:1200, :2200], fmt)
    img = decode(data, max_pixels=LIMIT, reduce_to=300)
    assert img.scale == 1.0 and img.rgb.shape == (1200, 2200, 3)
    assert (img.width, img.height) == (2200, 1200)


def test_from_array_is_full_scale() -> None:
    assert DecodedImage.from_array(np.zeros((8, 8, 3), np.uint8)).scale == 1.0


def test_reduce_to_must_be_positive(big_jpeg: bytes) -> None:
    with pytest.raises(ValueError, match="reduce_to must be a positive number of pixels"):
        decode(big_jpeg, max_pixels=LIMIT, reduce_to=0)


# -- matching a reduced decode ---------------------------------------------------------

#: Where the astronaut sits in the large query, in the query's pixels.
_X0, _Y0, _SIDE = 900, 300, 2600


@pytest.fixture(scope="module")
def big_copy(match_photos: dict[str, np.ndarray]) -> bytes:
    """The astronaut enlarged to 2600 px and pasted into a 4200 x 3000 photo (rocket)."""
    canvas = cv2.resize(match_photos["rocket"], (4200, 3000), interpolation=cv2.INTER_CUBIC)
    work = cv2.resize(match_photos["astronaut"], (_SIDE, _SIDE), interpolation=cv2.INTER_CUBIC)
    canvas[_Y0 : _Y0 + _SIDE, _X0 : _X0 + _SIDE] = work
    return _encode(np.ascontiguousarray(canvas), quality=88)


def _box(m: Match) -> np.ndarray:
    xs, ys = zip(*m.region, strict=True)
    return np.array([min(xs), min(ys), max(xs), max(ys)])


def _astronaut(matches: list[Match]) -> Match:
    assert [m.work_id for m in matches] == ["astronaut"]
    return matches[0]


def test_match_on_a_reduced_decode_is_in_original_pixels(
    matcher: Matcher, big_copy: bytes, config: MatchConfig
) -> None:
    reduced = decode(big_copy, max_pixels=LIMIT, reduce_to=config.query_side)
    assert reduced.scale == 0.25 and (reduced.width, reduced.height) == (4200, 3000)
    small = _astronaut(matcher.match(reduced))
    full = _astronaut(matcher.match(decode(big_copy, max_pixels=LIMIT)))
    truth = np.array([_X0, _Y0, _X0 + _SIDE, _Y0 + _SIDE])
    # Within 1 % of the query's longest side of where the work was pasted, and of the
    # full decode's answer.
    assert np.abs(_box(small) - truth).max() < 0.01 * 4200
    assert np.abs(_box(small) - _box(full)).max() < 0.01 * 4200
    assert small.transform.scale == pytest.approx(_SIDE / 512, rel=0.03)
    assert small.transform.scale == pytest.approx(full.transform.scale, rel=0.03)
    # Keypoint pairs too: query points inside the pasted work, in original pixels.
    query_pts = np.array([q for _, q in small.inlier_pairs])
    assert len(query_pts) >= 20
    assert (query_pts.min(axis=0) >= truth[:2] - 50).all()
    assert (query_pts.max(axis=0) <= truth[2:] + 50).all()


def test_bytes_given_to_the_matcher_are_decoded_reduced(
    matcher: Matcher, big_copy: bytes, config: MatchConfig
) -> None:
    reduced = decode(big_copy, max_pixels=LIMIT, reduce_to=config.decode_side)
    assert reduced.scale == 0.5 and max(reduced.rgb.shape) >= config.decode_side
    assert matcher.match(big_copy) == matcher.match(reduced)


def test_decode_side_cannot_be_below_query_side() -> None:
    assert MatchConfig(decode_side=0).decode_side == 0  # 0: always decode in full
    with pytest.raises(MatchError, match="decode_side must be 0 or at least"):
        MatchConfig.from_mapping({"query_side": 1024, "decode_side": 1000})
