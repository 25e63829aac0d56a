"""Close-ups cut from the full-page screenshot: the same pixels, the frame outside the box."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from copyseal.capture._closeup import OUTLINE_RGB, OUTLINE_WIDTH, crop
from copyseal.capture.result import Box

RED = list(OUTLINE_RGB)


def _page_png(width: int = 400, height: int = 600, mode: str = "RGB") -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 200, size=(height, width, 3), dtype=np.uint8)  # never pure red
    buf = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buf, "PNG")
    return buf.getvalue(), pixels


def _open(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im.convert("RGB"))


def test_the_closeup_is_the_screenshot_region_with_the_frame_outside_the_box() -> None:
    png, pixels = _page_png()
    page = Box(x=0, y=0, width=400, height=600)
    box = Box(x=100.4, y=200.6, width=50.2, height=30.0)  # fractional, as the DOM gives
    cut = crop(png, page, box, margin=20)
    assert cut is not None
    data, clip = cut
    assert clip == Box(x=80, y=180, width=91, height=71)  # whole pixels around box + margin
    out = _open(data)
    assert out.shape == (71, 91, 3)
    # The box's pixels (101..150 x 201..230 cover the fractional box) are untouched ...
    inside = out[201 - 180 : 231 - 180, 100 - 80 : 151 - 80]
    assert (inside == pixels[201:231, 100:151]).all()
    # ... the frame is the OUTLINE_WIDTH px just outside it, on all four sides ...
    left, top, right, bottom = 100, 200, 151, 231  # floor/ceil of the box
    for dx in range(1, OUTLINE_WIDTH + 1):
        assert out[215 - 180, left - dx - 80].tolist() == RED
        assert out[215 - 180, right - 1 + dx - 80].tolist() == RED
        assert out[top - dx - 180, 120 - 80].tolist() == RED
        assert out[bottom - 1 + dx - 180, 120 - 80].tolist() == RED
    # ... and the rest of the margin is the screenshot's.
    assert (out[:10, :] == pixels[180:190, 80:171]).all()


def test_a_frame_at_the_page_edge_is_clipped_and_rgba_stays_rgba() -> None:
    png, _ = _page_png(mode="RGBA")
    cut = crop(
        png, Box(x=0, y=0, width=400, height=600), Box(x=0, y=0, width=40, height=40), margin=80
    )
    assert cut is not None
    with Image.open(io.BytesIO(cut[0])) as im:
        assert im.mode == "RGBA" and im.size == (120, 120)
        assert list(im.getpixel((41, 10))) == [*RED, 255]
    assert cut[1] == Box(x=0, y=0, width=120, height=120)


@pytest.mark.parametrize(
    ("page", "box"),
    [
        (Box(x=0, y=0, width=400, height=600), Box(x=10, y=590, width=20, height=20)),  # below
        (Box(x=0, y=0, width=400, height=600), Box(x=390, y=10, width=20, height=20)),  # right
        (Box(x=0, y=0, width=400, height=500), Box(x=10, y=10, width=20, height=20)),  # size
    ],
)
def test_no_cut_when_the_box_is_not_in_the_screenshot(page: Box, box: Box) -> None:
    png, _ = _page_png()
    assert crop(png, page, box, margin=10) is None
