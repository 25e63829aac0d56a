"""Rectangles pasted into a query: the axis-aligned pictures of a collage or a page.

A work pasted whole into a composite (a collage, a screenshot of a page, a poster) is a
rectangle whose four sides are straight edges of the query: its pixels meet the
background's along full lines. Found, that rectangle's pHash is the work's own: for the
nine 30-50 % embeds ``match_hard_end.py`` missed (low-texture works with too few
keypoints: colorwheel, microaneurysms, minduka, the clock, retina), the pasted
rectangle's pHash was within 0-2 bits of the work's whole-image hash.

Detection, on the working image reduced to ``_SIDE`` px: a step of at least ``_STEP``
levels over two pixels, in grey or, when the query's colours are given, in any colour
channel (a grey picture beside a coloured one of its brightness), is an edge (so a
border blurred over two pixels keeps its full contrast); the columns and rows most
covered by edges are the candidate sides (the image's own border counts as a fully
covered side, for a picture pasted flush with it); a rectangle is kept when each of its
four sides is covered along ``_COVER`` of its length and no candidate line crosses it
from side to side (the smallest rectangles: not two neighbouring pictures taken
together). Each side found is then placed at full resolution, where the border is
sharpest: the pHash of a rectangle a few pixels off is not the work's (3 px on 400 moved
it 10 bits).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["pasted_rects"]

_STEP = 16  # levels (grey, or any colour channel) across a pasted picture's border
_COVER = 0.85  # share of a side's length along which the border is an edge
_MIN_SIDE = 64  # px: a smaller picture has too little for a hash (8 x 8 DCT of 32 x 32)
_ALONG = 0.5  # share of a side along which a place inside the image's border is an edge
_CANDIDATES = 12  # lines per direction considered
_SIDE = 512  # px: the longest side detection works at
_SUPPRESS = 3  # px (of the reduced image): a line this close to a stronger one is the same border


def pasted_rects(
    grey: npt.NDArray[np.uint8], limit: int, *, rgb: npt.NDArray[np.uint8] | None = None
) -> list[tuple[int, int, int, int]]:
    """Up to ``limit`` rectangles ``(x0, y0, x1, y1)`` (working px of ``grey``) whose four
    sides are edges along their length and that no other such line crosses, the largest
    first; the whole image is never one. With ``rgb`` (the same picture in colour, any
    size), a step in any colour channel is an edge: a grey picture pasted beside a
    coloured one of the same brightness still has a border."""
    if limit <= 0 or min(grey.shape) < _MIN_SIDE:
        return []
    # At most _SIDE px on the longest side (a quarter of the pixels of a 1024 px query;
    # bilinear: area averaging alone cost 1 ms); steps are taken over two pixels, so a
    # border the reduction spread over two keeps its full contrast.
    f = min(1.0, _SIDE / max(grey.shape))
    src = grey
    if rgb is not None and rgb.ndim == 3 and rgb.shape[2] == 3:
        src = np.ascontiguousarray(rgb)
        if src.shape[:2] != grey.shape:
            # A colour picture of another size than the working image: brought to it first.
            src = np.asarray(
                cv2.resize(src, grey.shape[::-1], interpolation=cv2.INTER_AREA), dtype=np.uint8
            )
    small = src if f == 1.0 else cv2.resize(src, None, fx=f, fy=f, interpolation=cv2.INTER_LINEAR)
    g = np.asarray(small, dtype=np.uint8)
    h, w = g.shape[:2]
    if min(h, w) < _MIN_SIDE * f + 2:
        return []
    # column j: a border at x = j + 1 or j + 2 (OpenCV's absdiff of uint8: no int16 copy)
    ev = _edges(np.asarray(cv2.absdiff(g[:, 2:], g[:, :-2])))
    eh = _edges(np.asarray(cv2.absdiff(g[2:, :], g[:-2, :])))
    # Cumulative coverage along each line, with the image's own border fully covered;
    # from OpenCV's integral images (a per-column numpy cumsum cost ~0.9 ms each).
    cv = np.zeros((h + 1, w + 1), np.int32)  # cv[y, x]: edges of border x over rows < y
    iv = np.asarray(cv2.integral(ev, sdepth=cv2.CV_32S))
    cv[:, 1 : w - 1] = np.diff(iv, axis=1)
    cv[:, 0] = cv[:, w] = np.arange(h + 1)
    ch = np.zeros((h + 1, w + 1), np.int32)  # ch[y, x]: edges of border y over columns < x
    ih = np.asarray(cv2.integral(eh, sdepth=cv2.CV_32S))
    ch[1 : h - 1, :] = np.diff(ih, axis=0)
    ch[0, :] = ch[h, :] = np.arange(w + 1)
    side = max(8, round(_MIN_SIDE * f))
    xs = _lines(cv, _CANDIDATES, side)
    ys = _lines(ch.T, _CANDIDATES, side)
    if len(xs) < 2 or len(ys) < 2:
        return []
    # Every (left, right, top, bottom) choice at once: coverage of each side.
    xl, xr = xs[:, None, None, None], xs[None, :, None, None]
    yt, yb = ys[None, None, :, None], ys[None, None, None, :]
    ok = (xr - xl >= side) & (yb - yt >= side)
    span_y = np.maximum(yb - yt, 1)
    span_x = np.maximum(xr - xl, 1)
    left = (cv[yb, xl] - cv[yt, xl]) >= _COVER * span_y
    right = (cv[yb, xr] - cv[yt, xr]) >= _COVER * span_y
    top = (ch[yt, xr] - ch[yt, xl]) >= _COVER * span_x
    bottom = (ch[yb, xr] - ch[yb, xl]) >= _COVER * span_x
    whole = (xl == 0) & (xr == w) & (yt == 0) & (yb == h)
    found = np.argwhere(ok & left & right & top & bottom & ~whole)
    rects = []
    for i, j, k, m in found.tolist():
        x0, x1, y0, y1 = int(xs[i]), int(xs[j]), int(ys[k]), int(ys[m])
        if _crossed(cv, ch, xs, ys, (x0, y0, x1, y1)):
            continue
        rects.append((x0, y0, x1, y1))
    rects.sort(key=lambda r: (-(r[2] - r[0]) * (r[3] - r[1]), r))
    full_h, full_w = grey.shape
    # A side found on the reduced image is within a reduced pixel and the two-pixel step
    # of its place: it is set at full resolution where the border is sharpest (a rectangle
    # 3 px off on a 400 px picture moved its pHash 10 bits, past the pasted windows' radius).
    reach = 1 + math.ceil(2 / f)
    return [
        _sharpest(
            src,
            (
                round(x0 / f),
                round(y0 / f),
                full_w if x1 == w else min(full_w, round(x1 / f)),
                full_h if y1 == h else min(full_h, round(y1 / f)),
            ),
            reach,
        )
        for x0, y0, x1, y1 in rects[:limit]
    ]


def _sharpest(
    src: npt.NDArray[np.uint8], rect: tuple[int, int, int, int], reach: int
) -> tuple[int, int, int, int]:
    """``rect`` with each side moved, by up to ``reach`` px, to where the step between
    neighbouring pixels summed along the side (its middle, clear of the corners) is
    largest, the nearest such place among equals. A side on the image's own border (found
    there because a picture pasted a few pixels from it is, at the reduced size, on it)
    moves inwards only to a place that is an edge (a step of ``_STEP``) along most of it
    (``_ALONG``), not to a picture's side that only meets it."""
    h, w = src.shape[:2]
    x0, y0, x1, y1 = rect
    out = [x0, y0, x1, y1]
    for i, (pos, lo, hi, limit) in enumerate(
        ((x0, y0, y1, w), (y0, x0, x1, h), (x1, y0, y1, w), (y1, x0, x1, h))
    ):
        a, b = lo + reach, hi - reach
        first, last = max(1, pos - reach), min(limit - 1, pos + reach)
        if b - a < 8 or last < first:
            continue
        # Pixels on both sides of the borders first..last, along the side.
        if i % 2 == 0:
            band = src[a:b, first - 1 : last + 1].astype(np.int16)
            step = np.abs(np.diff(band, axis=1))
            along = 0
        else:
            band = src[first - 1 : last + 1, a:b].astype(np.int16)
            step = np.abs(np.diff(band, axis=0))
            along = 1
        if step.ndim == 3:
            step = step.max(axis=2)
        strength = step.sum(axis=along)
        places = np.arange(first, last + 1)
        best = np.flatnonzero(strength == strength.max())
        if pos <= 0 or pos >= limit:
            covered = (step >= _STEP).mean(axis=along)
            best = best[covered[best] >= _ALONG]
            if len(best) == 0:
                continue
        out[i] = int(places[best[np.argmin(np.abs(places[best] - pos))]])
    return out[0], out[1], out[2], out[3]


def _edges(step: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """1 where a step (the largest of a colour pixel's channels) is an edge, else 0."""
    if step.ndim == 3:
        # cv2.split first: cv2.max of strided channel views cost 5x more (0.45 vs 0.09 ms).
        r, g, b = cv2.split(step)
        step = np.asarray(cv2.max(cv2.max(r, g), b))
    return (step >= _STEP).view(np.uint8)


def _lines(cum: npt.NDArray[np.int32], n: int, side: int) -> npt.NDArray[np.int64]:
    """The ``n`` lines (columns of ``cum``, each line's edges cumulated along it) with the
    longest covered stretch, at least ``side`` px covered along ``_COVER`` of it, the
    most covered in all first among equals (non-maximum suppressed), ascending. A border
    of a small picture is short but unbroken; a textured area's columns are long but
    broken."""
    stretch = (cum[side:] - cum[:-side]).max(axis=0)
    score = stretch.astype(np.int64) * len(cum) + cum[-1]
    chosen: list[int] = []
    for p in np.argsort(-score, kind="stable").tolist():
        if stretch[p] < _COVER * side:
            break
        if all(abs(p - q) > _SUPPRESS for q in chosen):
            chosen.append(p)
            if len(chosen) == n:
                break
    return np.array(sorted(chosen), dtype=np.int64)


def _crossed(
    cv: npt.NDArray[np.int32],
    ch: npt.NDArray[np.int32],
    xs: npt.NDArray[np.int64],
    ys: npt.NDArray[np.int64],
    rect: tuple[int, int, int, int],
) -> bool:
    """Whether a candidate line runs across the rectangle from side to side."""
    x0, y0, x1, y1 = rect
    for x in xs.tolist():
        if x0 + _SUPPRESS < x < x1 - _SUPPRESS and cv[y1, x] - cv[y0, x] >= _COVER * (y1 - y0):
            return True
    for y in ys.tolist():
        if y0 + _SUPPRESS < y < y1 - _SUPPRESS and ch[y, x1] - ch[y, x0] >= _COVER * (x1 - x0):
            return True
    return False
