"""Colour evidence for matches that rest on outlines (``MatchConfig.weak_colour``).

Fingerprints are greyscale, and the tile check compares structure by correlation, which
is blind to the level and the colour on either side of an edge: a red triangle of one
flat picture agrees with a blue triangle of another. Where a match's agreeing tiles are
nearly all lone edges, the colours of the work (read from its kept original, not from
the fingerprint) and of the query are compared under the match's alignment.

Colour is compared as CIELAB chroma (a*, b*; OpenCV's 8-bit Lab, offset 128 removed), so
that brightness, contrast and gamma edits, which mostly change L*, change it little. A
pixel takes part when either side is chromatic there (chroma above ``_CHROMATIC``); it
agrees when the two chroma vectors are within ``_TOLERANCE``. A query or a work region
with almost no chromatic pixels (a greyscale copy, a grey work) says nothing, and no
verdict is given; a toned copy (sepia) has colour, and a weak match of one is refused.

Measured (the queries of ``match_accuracy.py``, every edit of the 6 coloured-shapes works,
the crawl site's copies, 24 false matches of flat graphics and logos to shapes works):
the false matches agreed on 0.00-0.24 of such pixels, copies aligned right on 0.84-1.00.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

Chroma = npt.NDArray[np.float32]  # H x W x 2: a*, b*

_CHROMATIC = 10.0  # a*b* magnitude from which a pixel counts as coloured
_TOLERANCE = 15.0  # largest a*b* distance between agreeing pixels
_MIN_SHARE = 0.02  # fewer chromatic pixels than this share of a side: no colour to compare
_MIN_PIXELS = 50  # fewer compared pixels: no verdict


def chroma(rgb: npt.NDArray[np.uint8], size: tuple[int, int]) -> Chroma:
    """CIELAB a*, b* of ``rgb`` reduced to ``size`` (w, h) by area averaging."""
    small = cv2.resize(np.ascontiguousarray(rgb[:, :, :3]), size, interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2Lab).astype(np.float32)
    out: Chroma = np.ascontiguousarray(lab[:, :, 1:] - 128.0)
    return out


def agreement(
    work: Chroma,
    work_size: tuple[int, int],
    query_rgb: npt.NDArray[np.uint8],
    query_shape: tuple[int, int],
    work_to_query: npt.NDArray[np.float64],
) -> float | None:
    """The share of coloured pixels whose colour agrees between the work and the query
    aligned onto it, or None when either side has too little colour to tell.

    Args:
        work: The work's chroma at its thumbnail size.
        work_size: ``(w, h)`` of the work's working image (the transform's frame).
        query_rgb: The query as decoded (any size: reduced to ``query_shape``).
        query_shape: ``(h, w)`` of the query's working image.
        work_to_query: Work working px -> query working px.
    """
    th, tw = work.shape[:2]
    qh, qw = query_shape
    query = chroma(query_rgb, (qw, qh))
    s = np.diag([work_size[0] / tw, work_size[1] / th, 1.0])  # thumbnail px -> work px
    t2q = work_to_query @ s
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpPerspective(query, t2q, (tw, th), flags=flags, borderValue=(0.0, 0.0))
    inside = cv2.warpPerspective(
        np.full((qh, qw), 255, np.uint8), t2q, (tw, th), flags=flags, borderValue=0
    )
    valid = cv2.erode(inside, np.ones((5, 5), np.uint8)) == 255
    n_valid = int(valid.sum())
    if n_valid < _MIN_PIXELS:
        return None
    work_col = np.linalg.norm(work, axis=2) > _CHROMATIC
    query_col = np.linalg.norm(warped, axis=2) > _CHROMATIC
    share = _MIN_SHARE * n_valid
    if (work_col & valid).sum() < share or (query_col & valid).sum() < share:
        return None  # a greyscale side: colour cannot refute the match
    compared = valid & (work_col | query_col)
    n = int(compared.sum())
    if n < _MIN_PIXELS:
        return None
    close = np.linalg.norm(work - warped, axis=2) < _TOLERANCE
    return float(close[compared].mean())
