"""Comparing two copies of a registered photo in the work's frame (real photos)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from copyseal.revisit import CHANGED_BELOW, compare
from copyseal.revisit._compare import side_by_side


def _jpeg_round_trip(pixels: np.ndarray, quality: int) -> np.ndarray:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(out.getvalue())).convert("RGB"))


def _scale(s: float) -> np.ndarray:
    return np.diag([s, s, 1.0])


def _shift(dx: float, dy: float) -> np.ndarray:
    m = np.eye(3)
    m[0, 2], m[1, 2] = dx, dy
    return m


@pytest.fixture(scope="module")
def astronaut(photos: dict[str, np.ndarray]) -> np.ndarray:
    return photos["astronaut"]


def test_the_same_picture_re_encoded_and_resized_is_present(astronaut: np.ndarray) -> None:
    first = _jpeg_round_trip(astronaut, 92)
    small = np.asarray(Image.fromarray(astronaut).resize((358, 358)))
    again = _jpeg_round_trip(small, 60)
    c = compare(
        first=first,
        first_matrix=np.eye(3),
        again=again,
        again_matrix=_scale(358 / 512),
        work_size=(512, 512),
    )
    assert c.similarity > 0.98 and not c.flipped and not c.changed


def test_another_crop_is_changed(astronaut: np.ndarray) -> None:
    crop = astronaut[100:400, 50:350]  # rows (y), columns (x): 300 x 300 of 512 x 512
    c = compare(
        first=astronaut,
        first_matrix=np.eye(3),
        again=crop,
        again_matrix=_shift(-50, -100),
        work_size=(512, 512),
    )
    assert c.coverage == pytest.approx(300 * 300 / 512**2, abs=0.02)
    assert c.appearance > 0.98
    assert c.changed and c.similarity < CHANGED_BELOW


def test_an_edit_of_the_colours_is_changed(astronaut: np.ndarray) -> None:
    edited = astronaut.copy()
    edited[..., 0] = 255 - edited[..., 0]  # the red channel inverted
    c = compare(
        first=astronaut,
        first_matrix=np.eye(3),
        again=edited,
        again_matrix=np.eye(3),
        work_size=(512, 512),
    )
    assert c.coverage == pytest.approx(1.0)
    assert c.changed and c.appearance < 0.5


def test_a_mirrored_copy_is_flipped(astronaut: np.ndarray) -> None:
    mirrored = astronaut[:, ::-1]
    flip = np.array([[-1.0, 0.0, 511.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    c = compare(
        first=astronaut,
        first_matrix=np.eye(3),
        again=np.ascontiguousarray(mirrored),
        again_matrix=flip,
        work_size=(512, 512),
    )
    assert c.flipped and c.changed
    assert c.similarity > 0.95  # the same pixels, mirrored back


def test_copies_without_overlap_score_zero(astronaut: np.ndarray) -> None:
    c = compare(
        first=astronaut[:200, :200],
        first_matrix=np.eye(3),
        again=astronaut[300:, 300:],
        again_matrix=_shift(-300, -300),
        work_size=(512, 512),
    )
    assert c.similarity == 0.0 and c.coverage == 0.0


def test_side_by_side_is_a_png_of_both(
    astronaut: np.ndarray, photos: dict[str, np.ndarray]
) -> None:
    png = side_by_side(astronaut, photos["coffee"], height=200)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.height == 200
    coffee_width = round(photos["coffee"].shape[1] * 200 / photos["coffee"].shape[0])
    assert image.width == 200 + 8 + coffee_width
