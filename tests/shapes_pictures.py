"""Flat coloured-shapes pictures (``skimage.draw.random_shapes``) and JPEG bytes, shared by
the matcher's and the registry's tests of matches resting on outlines."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from skimage.draw import random_shapes


def shapes(seed: int) -> np.ndarray:
    """A 640 x 480 picture of up to 12 flat shapes on white (as the benchmarks' works)."""
    img, _ = random_shapes(
        (480, 640), max_shapes=12, min_size=30, max_size=200, rng=seed, channel_axis=-1
    )
    return np.ascontiguousarray(img)


def jpeg(rgb: np.ndarray, q: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=q)
    return buf.getvalue()
