"""A picture of a match for reviewers and evidence bundles.

The work (left) and the query (right) side by side at a common height, the region of the
query that shows the work outlined, the work's outline carried over, and the inlier
keypoint pairs joined by lines. The PNG encoding is deterministic for the same inputs.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from copyseal.errors import MatchError
from copyseal.match.decode import DecodedImage
from copyseal.match.result import Match

__all__ = ["render_overlay"]

_HEIGHT = 480
_GAP = 16
_OUTLINE = (0, 200, 255)  # BGR orange-yellow
_LINE = (80, 220, 80)
_MAX_LINES = 60


def _bgr(image: DecodedImage | npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    rgb = image.rgb if isinstance(image, DecodedImage) else np.asarray(image, dtype=np.uint8)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def render_overlay(
    work_image: DecodedImage | npt.NDArray[np.uint8],
    query_image: DecodedImage | npt.NDArray[np.uint8],
    match: Match,
    *,
    height: int = _HEIGHT,
) -> bytes:
    """Render ``match`` as a PNG: work and query side by side, region and inliers drawn.

    Args:
        work_image: The registered work (decoded, or an RGB array).
        query_image: The image the work was found in (same frame as ``match.frame``).
        match: The match to draw (its region and inlier pairs are in original pixels).
        height: Height of the rendered panels in pixels.

    Returns:
        PNG bytes.
    """
    work, query = _bgr(work_image), _bgr(query_image)
    fw, fq = height / work.shape[0], height / query.shape[0]
    w_small = cv2.resize(
        work, (max(1, round(work.shape[1] * fw)), height), interpolation=cv2.INTER_AREA
    )
    q_small = cv2.resize(
        query, (max(1, round(query.shape[1] * fq)), height), interpolation=cv2.INTER_AREA
    )
    canvas = np.full((height + 28, w_small.shape[1] + _GAP + q_small.shape[1], 3), 255, np.uint8)
    canvas[:height, : w_small.shape[1]] = w_small
    x_off = w_small.shape[1] + _GAP
    canvas[:height, x_off:] = q_small

    region = np.array(match.region, dtype=np.float64).reshape(-1, 2)
    if len(region) >= 3:
        pts = np.round(region * fq + [x_off, 0]).astype(np.int32)
        cv2.polylines(
            canvas, [pts], isClosed=True, color=_OUTLINE, thickness=3, lineType=cv2.LINE_AA
        )
    pairs = match.inlier_pairs
    step = max(1, len(pairs) // _MAX_LINES)
    for (wx, wy), (qx, qy) in pairs[::step]:
        a = (round(wx * fw), round(wy * fw))
        b = (round(qx * fq) + x_off, round(qy * fq))
        cv2.line(canvas, a, b, _LINE, 1, cv2.LINE_AA)
        cv2.circle(canvas, a, 3, _LINE, 1, cv2.LINE_AA)
        cv2.circle(canvas, b, 3, _LINE, 1, cv2.LINE_AA)
    t = match.transform
    caption = (
        f"{match.work_id}  score {match.score:.2f}  {match.method}  inliers {match.inliers}  "
        f"scale {t.scale:.2f}  rot {t.rotation_deg:.1f}  {'mirrored' if t.mirrored else ''}"
    )
    cv2.putText(
        canvas, caption, (6, height + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA
    )
    ok, png = cv2.imencode(".png", canvas)
    if not ok:
        raise MatchError("could not encode the overlay")
    return png.tobytes()
