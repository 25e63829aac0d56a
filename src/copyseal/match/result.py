"""What a match says: which work, how sure, how it was found, where it is in the query.

:meth:`Match.to_json` is part of the public ``copyseal match --json`` contract.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Match", "Transform"]


@dataclass(frozen=True, kw_only=True)
class Transform:
    """How the work appears in the query.

    Attributes:
        matrix: 3 x 3 homography from work pixels (original image) to query pixels.
        scale: Linear scale (query px per work px), ``sqrt(|det|)`` of the linear part.
        rotation_deg: Rotation in degrees, counter-clockwise as seen on screen, in
            (-180, 180]; for mirrored copies, the rotation after mirroring the work.
        mirrored: The work appears mirrored (negative determinant).
    """

    matrix: tuple[tuple[float, float, float], ...]
    scale: float
    rotation_deg: float
    mirrored: bool

    @classmethod
    def from_matrix(cls, m: npt.NDArray[np.float64]) -> Transform:
        a = m[:2, :2] / m[2, 2]
        det = float(np.linalg.det(a))
        mirrored_ = det < 0
        if mirrored_:
            a = a @ np.diag([-1.0, 1.0])
        # Image y points down, so a counter-clockwise turn on screen has negative angle.
        rot = -math.degrees(math.atan2(a[1, 0], a[0, 0]))
        rot = 180.0 if rot <= -180.0 else rot
        mat = tuple(tuple(round(float(v), 6) for v in row) for row in (m / m[2, 2]))
        return cls(
            matrix=mat,  # type: ignore[arg-type]
            scale=round(math.sqrt(abs(det)), 4),
            rotation_deg=round(rot, 2),
            mirrored=mirrored_,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "rotation_deg": self.rotation_deg,
            "mirrored": self.mirrored,
            "matrix": [list(r) for r in self.matrix],
        }


@dataclass(frozen=True, kw_only=True)
class Match:
    """One work found in a query image.

    Attributes:
        work_id: The registered work.
        score: Confidence in [0, 1] (photometric agreement weighted by the strength of the
            geometric or hash evidence); every reported match passed all thresholds.
        method: ``"geometric"`` (keypoints + RANSAC), ``"global-hash"`` (low-texture path), or
            ``"exact-sha256"`` (the bytes of a work's original, the whole image).
        hash_distance: Smallest pHash distance between a query window and a work window
            (None if no window hash was within the retrieval radius).
        inliers: RANSAC inliers (0 on the global-hash path).
        transform: Work-to-query transform.
        photometric: Fraction of agreeing tiles after alignment.
        displaced: Fraction of tiles that agree only when shifted a pixel or two (parallax:
            a different photo of the same scene); small for every copy.
        region: Polygon (``[[x, y], ...]`` in query pixels) of the part of the query that
            shows the work.
        frame: Index of the sampled frame of an animated query (0 for still images).
        inlier_pairs: Inlier keypoint pairs ``((wx, wy), (qx, qy))`` in original pixels
            (at most 200), for overlays; not part of the JSON.
    """

    work_id: str
    score: float
    method: str
    hash_distance: int | None
    inliers: int
    transform: Transform
    photometric: float
    displaced: float
    region: tuple[tuple[float, float], ...]
    frame: int = 0
    inlier_pairs: tuple[tuple[tuple[float, float], tuple[float, float]], ...] = field(
        default=(), repr=False, compare=False
    )

    def to_json(self) -> dict[str, Any]:
        """JSON-safe dict (part of the ``copyseal match --json`` contract)."""
        out = {
            "work_id": self.work_id,
            "score": round(self.score, 4),
            "method": self.method,
            "hash_distance": self.hash_distance,
            "inliers": self.inliers,
            "photometric": round(self.photometric, 4),
            "displaced": round(self.displaced, 4),
            "transform": self.transform.to_json(),
            "region": [[round(x, 1), round(y, 1)] for x, y in self.region],
            "frame": self.frame,
        }
        if self.method == "exact-sha256":
            # An exact copy is reported in one shape wherever it comes from
            # (copyseal.registry.ExactMatch): no keypoints counted, no tiles compared.
            out["inliers"] = None
            del out["photometric"], out["displaced"]
        return out
