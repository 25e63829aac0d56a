"""Feature extraction shared by works and queries: working images, ORB, hashes, windows.

ORB (Rublee et al., ICCV 2011) is used rather than SIFT for speed: ~10 ms for 2,000
keypoints on a 1024 px image on one core. Work keypoints are spread over an 8 x 8 grid
(strongest first within each cell, cells visited round-robin) in the spirit of adaptive
non-maximal suppression (Brown, Szeliski and Winder, CVPR 2005), so that a crop of any
part of the work still contains enough of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from copyseal.match._pasted import pasted_rects
from copyseal.match.config import MatchConfig
from copyseal.match.hashes import ImageHash, dihedral_phashes, phash

Grey = npt.NDArray[np.uint8]

_GRID = 8
_BORDER_STD = 3.0  # a border row/column is "uniform" below this std (grey levels)
_BORDER_MIN = 0.02  # ... and is trimmed only if the border is at least this thick


def to_grey(rgb: npt.NDArray[np.uint8]) -> Grey:
    """ITU-R BT.601 luma, as OpenCV computes it."""
    return np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), dtype=np.uint8)


def resize_to(grey: Grey, side: int, *, min_side: int = 0) -> tuple[Grey, float]:
    """Scale so the longest side is at most ``side`` (and at least ``min_side``).

    Returns the image and the factor applied (new = old * factor).
    """
    h, w = grey.shape[:2]
    longest = max(h, w)
    f = 1.0
    if longest > side:
        f = side / longest
    elif min_side and longest < min_side:
        f = min_side / longest
    if f == 1.0:
        return grey, 1.0
    size = (max(1, round(w * f)), max(1, round(h * f)))
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC
    return np.asarray(cv2.resize(grey, size, interpolation=interp), dtype=np.uint8), f


def _orb(n: int, config: MatchConfig, *, fast_threshold: int | None = None) -> cv2.ORB:
    return cv2.ORB.create(
        nfeatures=n,
        scaleFactor=config.orb_scale,
        nlevels=config.orb_levels,
        edgeThreshold=15,
        patchSize=31,
        fastThreshold=config.fast_threshold if fast_threshold is None else fast_threshold,
    )


@dataclass(frozen=True, kw_only=True)
class Features:
    """Keypoint positions and ORB descriptors of one image (``N x 2`` and ``N x 32``)."""

    points: npt.NDArray[np.float32]
    descriptors: npt.NDArray[np.uint8]

    @classmethod
    def empty(cls) -> Features:
        return cls(points=np.zeros((0, 2), np.float32), descriptors=np.zeros((0, 32), np.uint8))


def orb_features(grey: Grey, n: int, config: MatchConfig, *, spread: float) -> Features:
    """Detect and describe up to ``n`` ORB keypoints.

    With ``spread`` > 1, ``spread * n`` are detected and ``n`` are kept round-robin over
    a grid, strongest first in each cell; the order is deterministic.
    """
    orb, chosen = _choose_keypoints(grey, n, config, spread=spread)
    return _describe(orb, grey, chosen)


def work_features(grey: Grey, config: MatchConfig, *, scale: float) -> Features:
    """A work's ORB features: :func:`orb_features` at ``fast_threshold``, or, for a work
    enlarged ``scale`` >= ``faint_min_scale`` times (``work_min_side``) and so smooth that
    fewer than ``faint_sparse`` keypoints are found, at ``faint_threshold``."""
    orb, chosen = _detect_sparse_again(
        grey, config.work_features, config, spread=3.0, rungs=_faint_rung(config, scale)
    )
    return _describe(orb, grey, chosen)


def _faint_rung(config: MatchConfig, scale: float) -> list[tuple[int, int]]:
    """The ``(faint_sparse, faint_threshold)`` detection, for a picture enlarged at least
    ``faint_min_scale`` times."""
    return (
        [(config.faint_sparse, config.faint_threshold)] if scale >= config.faint_min_scale else []
    )


def _detect_sparse_again(
    grey: Grey,
    n: int,
    config: MatchConfig,
    *,
    spread: float,
    rungs: Sequence[tuple[int, int]],
) -> tuple[cv2.ORB, list[cv2.KeyPoint]]:
    """:func:`_choose_keypoints` at ``fast_threshold``, then again at each rung's threshold
    while fewer than its count of keypoints were found."""
    orb, chosen = _choose_keypoints(grey, n, config, spread=spread)
    for sparse, threshold in rungs:
        if len(chosen) < sparse and threshold < config.fast_threshold:
            orb, chosen = _choose_keypoints(
                grey, n, config, spread=spread, fast_threshold=threshold
            )
    return orb, chosen


def _choose_keypoints(
    grey: Grey, n: int, config: MatchConfig, *, spread: float, fast_threshold: int | None = None
) -> tuple[cv2.ORB, list[cv2.KeyPoint]]:
    """The ORB detector and the up to ``n`` keypoints :func:`orb_features` describes, in
    its order; ``fast_threshold`` replaces ``config.fast_threshold``."""
    detect = round(spread * n) if spread > 1 else n
    orb = _orb(detect, config, fast_threshold=fast_threshold)
    # Detect first, describe only the keypoints kept: describing costs about as much as
    # detecting (5.3 vs 5.5 ms for 4,000 keypoints on a 512 px photo, one core), and
    # OpenCV's ORB gives the same descriptor for a keypoint either way (compared bit for
    # bit on four photos of the evaluation set).
    kps = orb.detect(grey, None)
    if not kps:
        return orb, []
    pts = np.asarray(cv2.KeyPoint.convert(kps), dtype=np.float32).reshape(-1, 2)
    resp = np.array([kp.response for kp in kps], dtype=np.float64)
    # Deterministic order: response desc, then y, then x.
    order = np.lexsort((pts[:, 0], pts[:, 1], -resp))
    if spread > 1:
        h, w = grey.shape[:2]
        cx = np.minimum((pts[order, 0] * _GRID / w).astype(int), _GRID - 1)
        cy = np.minimum((pts[order, 1] * _GRID / h).astype(int), _GRID - 1)
        cell = cy * _GRID + cx
        # Rank of each keypoint within its cell (0 = the cell's strongest).
        by_cell = np.argsort(cell, kind="stable")
        cells = cell[by_cell]
        starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
        first = np.repeat(starts, np.diff(np.r_[starts, len(cells)]))
        rank = np.empty(len(cell), dtype=np.int64)
        rank[by_cell] = np.arange(len(cells)) - first
        # Round-robin: all cells' best, then all cells' second best, ...
        order = order[np.lexsort((np.arange(len(order)), rank))]
    return orb, [kps[i] for i in order[:n].tolist()]


def _describe(orb: cv2.ORB, grey: Grey, chosen: Sequence[cv2.KeyPoint]) -> Features:
    """ORB descriptors of ``chosen``, in that order."""
    if not chosen:
        return Features.empty()
    for rank_in_order, kp in enumerate(chosen):
        kp.class_id = rank_in_order  # compute() returns keypoints grouped by pyramid level
    kept, desc = orb.compute(grey, list(chosen))
    if desc is None or not kept:
        return Features.empty()
    # Back in the chosen order; compute() would drop a keypoint too close to the border to
    # describe (none after detect(), which keeps the same margin).
    back = np.argsort(np.array([kp.class_id for kp in kept]), kind="stable")
    points = np.asarray(cv2.KeyPoint.convert(kept), dtype=np.float32).reshape(-1, 2)
    return Features(
        points=np.ascontiguousarray(points[back]),
        descriptors=np.ascontiguousarray(desc[back], dtype=np.uint8),
    )


def window_rect(frac: float, w: int, h: int) -> tuple[int, int, int, int]:
    """Centred window covering ``frac`` of each side, in working pixels."""
    cw, ch = max(1, round(w * frac)), max(1, round(h * frac))
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    return x0, y0, x0 + cw, y0 + ch


def window_hashes(grey: Grey, fracs: tuple[float, ...]) -> list[tuple[tuple[int, ...], ImageHash]]:
    """pHash of the whole image and of each centred window (rects in pixels of ``grey``)."""
    h, w = grey.shape[:2]
    out: list[tuple[tuple[int, ...], ImageHash]] = [((0, 0, w, h), phash(grey))]
    for f in fracs:
        x0, y0, x1, y1 = window_rect(f, w, h)
        out.append(((x0, y0, x1, y1), phash(grey[y0:y1, x0:x1])))
    return out


def _border_run(lines: npt.NDArray[np.uint8]) -> int:
    """How many leading rows of ``lines`` barely vary and keep a mean close to the first
    row's. Read in growing chunks from the edge: most pictures have no border, and the
    first chunk settles it (the whole image in float32, four times over, cost ~1.5 ms a
    query). Each row's statistics are those of the whole-array computation: a chunk keeps
    the row's memory layout, so numpy sums it in the same order."""
    n = len(lines)
    ref = float(lines[:1].astype(np.float32)[0].mean())
    start, step = 0, 8
    while start < n:
        chunk = lines[start : start + step].astype(np.float32)
        std = chunk.std(axis=1)
        mean = chunk.mean(axis=1)
        bad = np.flatnonzero(~((std < _BORDER_STD) & (np.abs(mean - ref) < 8.0)))
        if len(bad):
            return start + int(bad[0])
        start, step = start + step, step * 2
    return n


def trim_borders(grey: Grey) -> tuple[int, int, int, int] | None:
    """The rectangle inside uniform borders (letterbox, frames), or None if there are none.

    A border is a run of rows/columns at an edge whose pixels barely vary and whose mean
    stays close to the outermost row/column.
    """
    h, w = grey.shape[:2]
    top = _border_run(grey)
    bottom = _border_run(grey[::-1])
    left = _border_run(grey.T)
    right = _border_run(grey.T[::-1])
    x0, y0, x1, y1 = left, top, w - right, h - bottom
    if x1 - x0 < w * 0.2 or y1 - y0 < h * 0.2:
        return None
    if max(top, bottom) < _BORDER_MIN * h and max(left, right) < _BORDER_MIN * w:
        return None
    return x0, y0, x1, y1


@dataclass(frozen=True, kw_only=True)
class QueryView:
    """A query prepared for retrieval and verification.

    Attributes:
        grey: Working greyscale image.
        scale: Factor from original query pixels to working pixels.
        features: ORB features of ``grey`` used for voting (the first ``vote_features``
            of :meth:`all_features`, described at once).
        hash_windows: ``(rect, dihedral_index, hash)`` for each query window and
            orientation; rects in working pixels.
        pending: The keypoints chosen after those, described only when a candidate
            needs them (:meth:`all_features`): a query that no candidate reaches
            verification for never pays for them.
        rgb: The query's pixels as decoded (mirrored with the view), for the colour check
            of matches resting on outlines; not copied.
        pasted: How many of the last ``hash_windows`` are pictures pasted into the query
            (:mod:`copyseal.match._pasted`), each in its own orientation only.
    """

    grey: Grey
    scale: float
    features: Features
    hash_windows: tuple[tuple[tuple[int, int, int, int], int, ImageHash], ...]
    pending: tuple[cv2.KeyPoint, ...] = ()
    orb: cv2.ORB | None = field(default=None, repr=False, compare=False)
    keypoints: tuple[cv2.KeyPoint, ...] = field(default=(), repr=False, compare=False)
    mirror_width: int = 0  # > 0: ``pending`` are the unmirrored view's, mirrored when used
    rgb: npt.NDArray[np.uint8] | None = field(default=None, repr=False, compare=False)
    pasted: int = 0
    _all: list[Features] = field(default_factory=list, repr=False, compare=False)

    def all_features(self) -> Features:
        """Every chosen keypoint described (the voting ones first), computed once."""
        if not self.pending or self.orb is None:
            return self.features
        if not self._all:
            rest = (
                _mirror_keypoints(self.pending, self.mirror_width)
                if self.mirror_width
                else list(self.pending)
            )
            more = _describe(self.orb, self.grey, rest)
            self._all.append(
                Features(
                    points=np.concatenate([self.features.points, more.points]),
                    descriptors=np.concatenate([self.features.descriptors, more.descriptors]),
                )
            )
        return self._all[0]


def _query_features(
    grey: Grey, config: MatchConfig, *, scale: float
) -> tuple[Features, tuple[cv2.KeyPoint, ...], cv2.ORB, tuple[cv2.KeyPoint, ...]]:
    # A smooth query (a small crop of a low-contrast photo, enlarged to query_min_side)
    # gets a second, more sensitive detection, and a nearly featureless one enlarged at
    # least faint_min_scale times a third (MatchConfig.query_sparse, faint_sparse).
    orb, chosen = _detect_sparse_again(
        grey,
        config.query_features,
        config,
        spread=config.query_spread,
        rungs=[(config.query_sparse, config.query_fast_threshold), *_faint_rung(config, scale)],
    )
    head = max(1, config.vote_features)
    return _describe(orb, grey, chosen[:head]), tuple(chosen[head:]), orb, tuple(chosen)


def _mirror_keypoints(kps: Sequence[cv2.KeyPoint], width: int) -> list[cv2.KeyPoint]:
    """The keypoints of the mirrored image: FAST and the Harris score are symmetric, so
    detection on the mirrored image finds these, with the intensity-centroid orientation
    mirrored (180 degrees minus the angle)."""
    # Positional arguments: OpenCV's binding parses keywords about 4x slower (1.2 vs 0.3
    # ms for the 600 voting keypoints).
    last = width - 1
    return [
        cv2.KeyPoint(
            last - kp.pt[0], kp.pt[1], kp.size, (180.0 - kp.angle) % 360.0, kp.response, kp.octave
        )
        for kp in kps
    ]


def prepare_query(rgb: npt.NDArray[np.uint8], config: MatchConfig) -> QueryView:
    """Working image, ORB features and windowed dihedral pHashes of a query."""
    grey, scale = resize_to(to_grey(rgb), config.query_side, min_side=config.query_min_side)
    feats, pending, orb, chosen = _query_features(grey, config, scale=scale)
    h, w = grey.shape
    rects: list[tuple[int, int, int, int]] = [(0, 0, w, h)]
    trimmed = trim_borders(grey)
    if trimmed is not None:
        rects.append(trimmed)
    windows = []
    for rect in rects:
        x0, y0, x1, y1 = rect
        for d, hsh in enumerate(dihedral_phashes(grey[y0:y1, x0:x1])):
            windows.append((rect, d, hsh))
    # Pictures pasted into the query (a collage, a page): their own pHash, upright only.
    found = pasted_rects(grey, config.pasted_windows, rgb=rgb)
    pasted = [r for r in found if all(_iou(r, q) < 0.9 for q in rects)]
    for x0, y0, x1, y1 in pasted:
        windows.append(((x0, y0, x1, y1), 0, phash(grey[y0:y1, x0:x1])))
    return QueryView(
        grey=grey,
        scale=scale,
        features=feats,
        hash_windows=tuple(windows),
        pending=pending,
        orb=orb,
        keypoints=chosen,
        rgb=rgb,
        pasted=len(pasted),
    )


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def mirrored(view: QueryView, config: MatchConfig) -> QueryView:
    """The same query mirrored left-right, with its own ORB descriptors (no hashes)."""
    grey = np.ascontiguousarray(view.grey[:, ::-1])
    rgb = view.rgb[:, ::-1] if view.rgb is not None else None
    # The query's own keypoints, mirrored, are described on the mirrored image instead of
    # detecting again (detection is ~60 % of ORB's cost here). On the 1,228 queries of
    # match_accuracy.py plus 300 crawl-site images against 100 works the matches were the
    # same as with a fresh detection at nprobe 8; at nprobe 4 one differed (a mirrored 60 %
    # crop of `page`, missed), and match_accuracy.py's own 19-work table is unchanged.
    if not view.keypoints:
        feats, pending, orb, _ = _query_features(grey, config, scale=view.scale)
        return QueryView(
            grey=grey,
            scale=view.scale,
            features=feats,
            hash_windows=(),
            pending=pending,
            orb=orb,
            rgb=rgb,
        )
    head = max(1, config.vote_features)
    orb = _orb(len(view.keypoints), config)
    width = grey.shape[1]
    feats = _describe(orb, grey, _mirror_keypoints(view.keypoints[:head], width))
    return QueryView(
        grey=grey,
        scale=view.scale,
        features=feats,
        hash_windows=(),
        pending=view.keypoints[head:],
        orb=orb,
        mirror_width=width,
        rgb=rgb,
    )
