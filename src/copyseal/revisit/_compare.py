"""How much a re-visit's copy of a work still looks like its first capture.

The two copies are compared *in the work's frame*: each match's homography (work pixels
to copy pixels, :class:`copyseal.match.Transform`) is inverted to map the copy back onto
the registered work, at most :data:`FRAME` pixels on the long side. Then

- **coverage** is the intersection over union of the parts of the work each copy shows
  (a re-crop that keeps 60 % of the first crop's area gives 0.6 at most);
- **appearance** is the lowest of the three colour channels' Pearson correlations
  between the two copies where both show the work, after a Gaussian blur (sigma
  :data:`_BLUR_SIGMA` px) that absorbs the pixel or two a RANSAC homography is off by;
  negative correlation counts as 0;

and ``similarity = coverage × appearance`` in [0, 1]. A copy mirrored on one visit and not
on the other (the homographies' determinants differ in sign) is ``flipped``. Measured on
the scikit-image astronaut (512 px, first copy JPEG quality 92): the same picture at
quality 60 or resized 0.7× scored 0.9997–1.0; a crop keeping 61 % of it 0.61; a mirrored
copy 0.995 (and ``flipped``); its greyscale version 0.91. A visit is ``changed`` when
the similarity is below :data:`CHANGED_BELOW` or the copy was flipped, else ``present``.

:func:`side_by_side` draws the evidence picture: first capture left, this visit right.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["CHANGED_BELOW", "FRAME", "Comparison", "compare", "side_by_side"]

#: A visit whose similarity is below this is ``changed`` (else ``present``).
CHANGED_BELOW = 0.95
#: Long side of the work frame the copies are compared in (pixels).
FRAME = 384
_BLUR_SIGMA = 2.0
#: Fewer shared pixels than this fraction of the frame: nothing to correlate.
_MIN_OVERLAP = 0.02

Matrix = npt.NDArray[np.float64]
Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """The comparison of two copies of one work (see the module docstring)."""

    similarity: float
    coverage: float
    appearance: float
    flipped: bool = False

    @property
    def changed(self) -> bool:
        """Another crop or edit of the work than in the first capture."""
        return self.flipped or self.similarity < CHANGED_BELOW

    def to_json(self) -> dict[str, float | str | bool]:
        return {
            "similarity": round(self.similarity, 4),
            "coverage": round(self.coverage, 4),
            "appearance": round(self.appearance, 4),
            "flipped": self.flipped,
            "changed_below": CHANGED_BELOW,
            "measure": "coverage IoU x lowest per-channel correlation (blurred), in the"
            " work's frame",
        }


def _to_frame(
    copy: Image, work_to_copy: Matrix, work_size: tuple[int, int]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_], tuple[int, int]]:
    """The copy mapped onto the work's frame (scaled to :data:`FRAME`), and its mask."""
    import cv2

    width, height = work_size
    scale = FRAME / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    frame_to_work = np.diag([1 / scale, 1 / scale, 1.0])
    copy_from_frame = np.asarray(work_to_copy, dtype=np.float64) @ frame_to_work
    flags = cv2.INTER_AREA | cv2.WARP_INVERSE_MAP
    pixels = np.ascontiguousarray(copy).astype(np.float32)
    warped = np.asarray(
        cv2.warpPerspective(pixels, copy_from_frame, size, flags=flags), dtype=np.float32
    )
    ones = np.ones(copy.shape[:2], dtype=np.uint8)
    mask = cv2.warpPerspective(ones, copy_from_frame, size, flags=cv2.INTER_NEAREST | flags)
    return warped, mask.astype(bool), size


def compare(
    *,
    first: Image,
    first_matrix: Matrix,
    again: Image,
    again_matrix: Matrix,
    work_size: tuple[int, int],
) -> Comparison:
    """Compare two copies of one work (RGB arrays with their work-to-copy homographies).

    Args:
        first: The copy in the first capture.
        first_matrix: Its 3 x 3 homography from work pixels to ``first`` pixels.
        again: The copy found on this visit.
        again_matrix: Its homography from work pixels to ``again`` pixels.
        work_size: The registered work's (width, height) in pixels.
    """
    import cv2

    a, mask_a, _ = _to_frame(first, first_matrix, work_size)
    b, mask_b, size = _to_frame(again, again_matrix, work_size)
    union = int(np.count_nonzero(mask_a | mask_b))
    both = mask_a & mask_b
    shared = int(np.count_nonzero(both))
    coverage = shared / union if union else 0.0
    if shared < _MIN_OVERLAP * size[0] * size[1]:
        return Comparison(similarity=0.0, coverage=coverage, appearance=0.0)
    a = np.asarray(cv2.GaussianBlur(a, (0, 0), _BLUR_SIGMA), dtype=np.float32)
    b = np.asarray(cv2.GaussianBlur(b, (0, 0), _BLUR_SIGMA), dtype=np.float32)
    # Erode the shared mask so that the blur's smear across the mask edge is not compared.
    inner = cv2.erode(both.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    pick = inner if np.count_nonzero(inner) > 100 else both
    appearance = min(_correlation(a[pick][:, c], b[pick][:, c]) for c in range(3))
    flipped = _mirrored(first_matrix) != _mirrored(again_matrix)
    return Comparison(
        similarity=coverage * appearance,
        coverage=coverage,
        appearance=appearance,
        flipped=flipped,
    )


def _correlation(x: npt.NDArray[np.float32], y: npt.NDArray[np.float32]) -> float:
    """Pearson correlation, 0 when negative or undefined; two flat channels (a grey
    picture's) that are equal correlate fully."""
    u, v = x.astype(np.float64) - x.mean(), y.astype(np.float64) - y.mean()
    norm = float(np.sqrt((u * u).sum() * (v * v).sum()))
    if norm == 0:
        return 1.0 if np.allclose(x, y, atol=2.0) else 0.0
    return max(0.0, float((u * v).sum()) / norm)


def _mirrored(matrix: Matrix) -> bool:
    m = np.asarray(matrix, dtype=np.float64)
    return bool(np.linalg.det(m[:2, :2] / m[2, 2]) < 0)


def side_by_side(first: Image, again: Image, *, height: int = 360) -> bytes:
    """A PNG: the first capture's copy left, this visit's right, same height, 8 px apart."""
    from PIL import Image as PILImage

    panels = []
    for rgb in (first, again):
        h, w = rgb.shape[:2]
        width = max(1, round(w * height / h))
        panels.append(PILImage.fromarray(np.ascontiguousarray(rgb)).resize((width, height)))
    gap = 8
    canvas = PILImage.new("RGB", (panels[0].width + gap + panels[1].width, height), "white")
    canvas.paste(panels[0], (0, 0))
    canvas.paste(panels[1], (panels[0].width + gap, 0))
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()
