"""Verification of one candidate work against a query: geometry, then photometry.

Geometric: ORB descriptors matched with Lowe's ratio test (Lowe, IJCV 2004), then a
RANSAC (Fischler and Bolles, 1981) similarity transform (rotation, uniform scale,
translation: what reposting does), refined to a homography when that explains clearly
more matches (mild perspective, screenshots of screens).

Photometric: the query is warped into the work's thumbnail frame and compared tile by
tile with zero-normalised cross-correlation (ZNCC). A copy agrees almost everywhere; a
different photo of the same scene (another viewpoint: parallax, other moment) does not,
even when RANSAC found hundreds of inliers on it. Only tiles where the work has texture
and that lie wholly inside the visible part of the query are counted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import faiss
import numpy as np
import numpy.typing as npt

from copyseal.match._features import Features, Grey
from copyseal.match.config import MatchConfig
from copyseal.match.hashes import DIHEDRAL

Mat3 = npt.NDArray[np.float64]


@contextmanager
def omp_threads(n: int) -> Iterator[None]:
    """Run FAISS calls with ``n`` OpenMP threads in this thread, then restore.

    Covers one query: the 2-NN of :func:`ratio_matches` and the retrieval index's
    searches (FAISS's, when that is the index). A query's searches are small; on a busy
    2-core machine OpenMP's worker threads made a 5 ms search take 30-190 ms. OpenMP's
    thread count is a per-thread setting, so this does not affect other threads;
    parallelism belongs to the caller (one query a core).
    """
    if n <= 0:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


@dataclass(frozen=True, kw_only=True)
class Geometry:
    """A transform from work working pixels to query working pixels and its support."""

    matrix: Mat3
    inliers: int
    pairs_work: npt.NDArray[np.float32]  # inlier points in the work (working pixels)
    pairs_query: npt.NDArray[np.float32]  # and in the query


def ratio_matches(
    query: Features, work_desc: npt.NDArray[np.uint8], ratio: float
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Indices (query, work) of descriptor pairs passing the ratio test.

    Exhaustive 2-NN by FAISS (about 5x faster than OpenCV's brute-force matcher here).
    """
    if len(query.descriptors) < 2 or len(work_desc) < 2:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    index = faiss.IndexBinaryFlat(256)
    index.add(np.ascontiguousarray(work_desc))
    dist, idx = index.search(np.ascontiguousarray(query.descriptors), 2)
    ok = (idx[:, 1] >= 0) & (dist[:, 0] < ratio * dist[:, 1])
    qi = np.flatnonzero(ok).astype(np.intp)
    return qi, idx[ok, 0].astype(np.intp)


def vote_consistency(
    work_points: npt.NDArray[np.float32],
    query_points: npt.NDArray[np.float32],
    distances: npt.NDArray[np.int32],
    *,
    threshold: float,
    cell: float,
    min_scale: float = 0.05,
) -> int:
    """How many vote pairs one similarity transform explains (work -> query points).

    Pairs are taken nearest descriptor first and kept one per ``cell`` px cell of the
    query and then of the work, so that a cluster of votes from one spot (a texture, the
    same corner at several pyramid levels) cannot make a degenerate fit look supported;
    a fit shrinking the work below ``min_scale`` or enlarging it more than 20x counts as
    none.
    """
    if len(work_points) < 3:
        return 0
    order = np.argsort(distances, kind="stable")
    src = np.asarray(work_points, np.float32)[order]
    dst = np.asarray(query_points, np.float32)[order]
    for side in ("query", "work"):
        pts = dst if side == "query" else src
        cells = np.floor(pts / cell).astype(np.int64)
        _, first = np.unique(cells[:, 0] * 1_000_003 + cells[:, 1], return_index=True)
        keep = np.sort(first)
        src, dst = src[keep], dst[keep]
        if len(src) < 3:
            return 0
    sim, mask = cv2.estimateAffinePartial2D(
        src,
        dst,
        method=cv2.RANSAC,
        ransacReprojThreshold=threshold,
        maxIters=1000,
        confidence=0.995,
        refineIters=0,
    )
    if sim is None or mask is None:
        return 0
    scale = math.hypot(float(sim[0, 0]), float(sim[1, 0]))
    if not min_scale <= scale <= 20.0:
        return 0
    return int(mask.sum())


def _well_conditioned(m: Mat3) -> bool:
    a = m[:2, :2]
    det = float(np.linalg.det(a))
    if not np.isfinite(m).all() or abs(det) < 1e-6:
        return False
    s = np.linalg.svd(a, compute_uv=False)
    # Reject degenerate fits: extreme anisotropy or perspective, absurd scale.
    return bool(s[0] / s[1] < 3.0 and s[1] > 0.02 and s[0] < 50 and np.abs(m[2, :2]).max() < 2e-3)


def geometric(
    query: Features,
    work_points: npt.NDArray[np.float32],
    work_desc: npt.NDArray[np.uint8],
    config: MatchConfig,
) -> Geometry | None:
    """RANSAC similarity (then homography) between matched keypoints, or None."""
    qi, wi = ratio_matches(query, work_desc, config.ratio)
    if len(qi) < max(4, config.min_inliers):
        return None
    src = work_points[wi].astype(np.float32)
    dst = query.points[qi].astype(np.float32)
    sim, mask = cv2.estimateAffinePartial2D(
        src,
        dst,
        method=cv2.RANSAC,
        ransacReprojThreshold=config.ransac_threshold,
        maxIters=2000,
        confidence=0.995,
        refineIters=10,
    )
    if sim is None or mask is None:
        return None
    inl = mask.ravel().astype(bool)
    best = np.vstack([sim, [0.0, 0.0, 1.0]]).astype(np.float64)
    if int(inl.sum()) >= 8:
        hom, hmask = cv2.findHomography(
            src, dst, cv2.RANSAC, config.ransac_threshold * 1.5, maxIters=500, confidence=0.99
        )
        if hom is not None and hmask is not None:
            hin = hmask.ravel().astype(bool)
            hom = hom / hom[2, 2]
            if hin.sum() > 1.15 * inl.sum() and _well_conditioned(hom):
                best, inl = hom.astype(np.float64), hin
    if not _well_conditioned(best):
        return None
    return Geometry(matrix=best, inliers=int(inl.sum()), pairs_work=src[inl], pairs_query=dst[inl])


def window_transform(
    work_rect: tuple[float, float, float, float],
    query_rect: tuple[int, int, int, int],
    dihedral: int,
) -> Mat3:
    """The transform implied by a hash hit: work window (working px) to query window.

    The query window, put in orientation ``DIHEDRAL[dihedral]``, looks like the work
    window; map the work window's unit square back through that orientation.
    """
    transpose, flip_rows, flip_cols = DIHEDRAL[dihedral]
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    unit = corners.copy()
    if flip_cols:
        unit[:, 0] = 1 - unit[:, 0]
    if flip_rows:
        unit[:, 1] = 1 - unit[:, 1]
    if transpose:
        unit = unit[:, ::-1]
    wx0, wy0, wx1, wy1 = work_rect
    qx0, qy0, qx1, qy1 = query_rect
    src = np.asarray(corners * [wx1 - wx0, wy1 - wy0] + [wx0, wy0], dtype=np.float32)
    dst = np.asarray(unit * [qx1 - qx0, qy1 - qy0] + [qx0, qy0], dtype=np.float32)
    m = cv2.getAffineTransform(src, dst)
    return np.vstack([m, [0.0, 0.0, 1.0]]).astype(np.float64)


@dataclass(frozen=True, kw_only=True)
class Photometry:
    """Result of the tile check.

    Attributes:
        score: Fraction of usable tiles whose ZNCC with the aligned query exceeds
            ``tile_corr`` at zero offset.
        displaced: Fraction of usable tiles that disagree at zero offset but agree
            (ZNCC > 0.9) a pixel or two away: the mark of parallax, i.e. a different
            photograph of the same scene, not a copy.
        tiles: Number of usable tiles.
        distinct: Agreeing tiles whose work content is not a lone straight edge (its
            gradient orientations disagree: structure-tensor coherence below
            ``tile_coherence``). A step edge agrees with any step edge of like
            orientation, so the outline of one flat shape (a logo's circle) agrees tile
            after tile with the same shape in another picture; only corners, junctions
            and texture say which picture it is.
        matrix: The work-to-query transform after ECC refinement (working pixels).
    """

    score: float
    displaced: float
    tiles: int
    matrix: Mat3
    distinct: int = 0


_SHIFT = 2  # thumbnail pixels searched around each tile for the displacement test
_ECC_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 1e-4)


def _refine_ecc(thumb: Grey, src: Grey, t2s: Mat3, shape: tuple[int, int]) -> Mat3:
    """ECC alignment (Evangelidis and Psarakis, PAMI 2008) starting from ``t2s``.

    RANSAC on keypoints is accurate to about a keypoint's scale; ECC brings a copy to
    sub-pixel alignment, so that the only tiles left disagreeing are edited ones. Falls
    back to ``t2s`` when ECC diverges or moves the frame implausibly.
    """
    affine = bool(np.abs(t2s[2, :2]).max() < 1e-12)
    motion = cv2.MOTION_AFFINE if affine else cv2.MOTION_HOMOGRAPHY
    start = t2s[:2] if affine else t2s
    try:
        _, warp = cv2.findTransformECC(
            thumb.astype(np.float32),
            src.astype(np.float32),
            start.astype(np.float32),
            motion,
            _ECC_CRITERIA,
            np.full(src.shape, 255, np.uint8),
            3,
        )
    except cv2.error:
        return t2s
    if affine:
        warp = np.vstack([warp, [0.0, 0.0, 1.0]])
    refined = warp.astype(np.float64)
    if not np.isfinite(refined).all() or abs(refined[2, 2]) < 1e-9:
        return t2s
    refined /= refined[2, 2]
    h, w = shape
    corners = np.array([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], dtype=np.float64).T

    def project(m: Mat3) -> npt.NDArray[np.float64]:
        p = m @ corners
        return np.asarray(p[:2] / p[2], dtype=np.float64)

    a, b = project(t2s), project(refined)
    span = float(np.linalg.norm(a[:, 0] - a[:, 2]))
    if not np.isfinite(b).all() or float(np.abs(a - b).max()) > 0.1 * span:
        return t2s
    return refined


def photometric(
    thumb: Grey,
    work_size: tuple[int, int],
    query: Grey,
    work_to_query: Mat3,
    config: MatchConfig,
) -> Photometry:
    """Align the query to the work's thumbnail and compare tiles by ZNCC.

    The given alignment is tried first; unless it already shows a clean copy
    (``evidence >= ecc_skip``), it is refined by ECC and the tiles compared again.
    """
    th, tw = thumb.shape
    s = np.diag([work_size[0] / tw, work_size[1] / th, 1.0])  # thumbnail px -> work px
    t2q = work_to_query @ s
    # Pre-shrink the query when the warp would minify it (avoid aliasing).
    scale = float(np.sqrt(abs(np.linalg.det(t2q[:2, :2]))))
    src, d = query, np.eye(3)
    if scale > 1.5:
        f = 1.0 / scale
        size = (max(1, round(query.shape[1] * f)), max(1, round(query.shape[0] * f)))
        src = np.asarray(cv2.resize(query, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        d = np.diag([src.shape[1] / query.shape[1], src.shape[0] / query.shape[0], 1.0])
    a = cv2.GaussianBlur(thumb, (0, 0), 1.0).astype(np.float32)
    t2s = d @ t2q
    first = _tile_check(a, src, t2s, config)
    if evidence(first, config) >= config.ecc_skip or first[0] < config.ecc_min:
        return _result(first, work_to_query)
    refined_t2s = _refine_ecc(thumb, src, t2s, (th, tw))
    if refined_t2s is t2s:
        return _result(first, work_to_query)
    second = _tile_check(a, src, refined_t2s, config)
    refined = np.linalg.inv(d) @ refined_t2s @ np.linalg.inv(s)
    return _result(second, refined)


def _result(check: tuple[float, float, int, int], matrix: Mat3) -> Photometry:
    score, displaced, tiles, distinct = check
    return Photometry(
        score=score, displaced=displaced, tiles=tiles, matrix=matrix, distinct=distinct
    )


def chance_agreement(photo: Photometry, config: MatchConfig) -> float:
    """The chance that at least as many of ``photo.tiles`` tiles agree as did, were each to
    agree with probability ``tile_chance`` on its own (binomial upper tail): small for a
    copy, not for a few chance agreements of an unrelated picture."""
    n = photo.tiles
    k = round(photo.score * n)
    p = config.tile_chance
    if n <= 0:
        return 1.0
    tail = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))
    return float(min(1.0, tail))


def accepted(photo: Photometry, config: MatchConfig, *, minimum: float) -> bool:
    """The tile check's verdict: evidence of at least ``minimum`` from significantly many
    agreeing tiles (``tile_significance``), at least ``min_distinct_tiles`` of them
    distinctive (:attr:`Photometry.distinct`)."""
    if evidence(photo, config) < minimum or photo.distinct < config.min_distinct_tiles:
        return False
    return chance_agreement(photo, config) <= config.tile_significance


def coverage(matrix: Mat3, work_size: tuple[int, int], query_shape: tuple[int, ...]) -> float:
    """The fraction of the work's area the query shows: the query's frame mapped into the
    work by the inverse of ``matrix`` (work working px -> query working px), clipped to
    the work."""
    ww, wh = work_size
    qh, qw = query_shape[:2]
    try:
        inv = np.linalg.inv(matrix)
    except np.linalg.LinAlgError:
        return 0.0
    frame = inv @ np.array([[0, qw, qw, 0], [0, 0, qh, qh], [1, 1, 1, 1]], dtype=np.float64)
    if not np.isfinite(frame).all() or (frame[2] <= 0).any():
        return 0.0  # the frame crosses the horizon: no meaningful area
    quad = np.ascontiguousarray((frame[:2] / frame[2]).T, dtype=np.float32)
    rect = np.array([[0, 0], [ww, 0], [ww, wh], [0, wh]], dtype=np.float32)
    area, _ = cv2.intersectConvexConvex(cv2.convexHull(quad), rect)
    return float(area) / float(ww * wh) if ww * wh else 0.0


def outlines_only(photo: Photometry, config: MatchConfig) -> bool:
    """Whether the agreeing tiles are (almost) all lone edges (``weak_distinct``): the
    evidence another picture's like shape could give too."""
    return photo.distinct <= config.weak_distinct


def evidence(result: tuple[float, float, int, int] | Photometry, config: MatchConfig) -> float:
    """Agreement discounted by displacement: ``score - displaced_weight * displaced``."""
    if isinstance(result, Photometry):
        return result.score - config.displaced_weight * result.displaced
    return result[0] - config.displaced_weight * result[1]


def _tile_check(
    a: npt.NDArray[np.float32], src: Grey, t2s: Mat3, config: MatchConfig
) -> tuple[float, float, int, int]:
    """(agreeing fraction, displaced fraction, usable tiles, distinct agreeing tiles) of
    ``src`` warped onto ``a``."""
    th, tw = a.shape
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpPerspective(src, t2s, (tw, th), flags=flags, borderValue=0)
    valid = cv2.warpPerspective(
        np.full(src.shape, 255, np.uint8), t2s, (tw, th), flags=flags, borderValue=0
    )
    b = cv2.GaussianBlur(warped, (0, 0), 1.0).astype(np.float32)
    t, r = config.tile_size, _SHIFT
    ny, nx = (th - 2 * r) // t, (tw - 2 * r) // t
    if ny <= 0 or nx <= 0:
        return 0.0, 0.0, 0, 0

    def tiles(img: npt.NDArray[np.float32], dy: int = 0, dx: int = 0) -> npt.NDArray[np.float32]:
        crop = img[r + dy : r + dy + ny * t, r + dx : r + dx + nx * t]
        return crop.reshape(ny, t, nx, t).transpose(0, 2, 1, 3).reshape(ny * nx, t * t)

    # A tile is usable if the work varies there and the query covers it (with margin).
    inside = cv2.erode(valid, np.ones((2 * r + 1, 2 * r + 1), np.uint8)).astype(np.float32)
    ta = tiles(a)
    usable = (tiles(inside).min(axis=1) >= 255) & (ta.std(axis=1) > config.tile_min_std)
    n = int(usable.sum())
    if n < config.min_tiles:
        return 0.0, 0.0, n, 0
    da = ta[usable] - ta[usable].mean(axis=1, keepdims=True)
    na = np.sqrt((da * da).sum(axis=1))

    def zncc(dy: int, dx: int) -> npt.NDArray[np.float32]:
        tb = tiles(b, dy, dx)[usable]
        db = tb - tb.mean(axis=1, keepdims=True)
        nb = np.sqrt((db * db).sum(axis=1))
        out: npt.NDArray[np.float32] = (da * db).sum(axis=1) / np.maximum(na * nb, 1e-6)
        return out

    c0 = zncc(0, 0)
    agree = c0 > config.tile_corr
    best = c0.copy()
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dy or dx:
                best = np.maximum(best, zncc(dy, dx))
    displaced = (~agree) & (best > 0.9)
    distinct = int((agree & (_coherence(a, tiles)[usable] < config.tile_coherence)).sum())
    return float(agree.mean()), float(displaced.mean()), n, distinct


def _coherence(
    a: npt.NDArray[np.float32],
    tiles: Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]],
) -> npt.NDArray[np.float32]:
    """Per tile, the coherence of the summed structure tensor (Bigün and Granlund, 1987):
    1 for a single straight edge or a ramp (one gradient orientation), near 0 for corners,
    junctions and texture."""
    gx = cv2.Sobel(a, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(a, cv2.CV_32F, 0, 1)
    jxx, jyy, jxy = (
        tiles(gx * gx).sum(axis=1),
        tiles(gy * gy).sum(axis=1),
        tiles(gx * gy).sum(axis=1),
    )
    out: npt.NDArray[np.float32] = np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / np.maximum(
        jxx + jyy, 1e-6
    )
    return out
