"""The matching engine: find registered works in query images and explain each match.

Pipeline for a query (each frame of an animated image is matched on its own):

1. **Prepare** — working greyscale (longest side ``query_side``), ORB keypoints (only the
   ``vote_features`` voting ones described at first; the rest when a candidate reaches
   keypoint verification), pHashes of the whole query and of its border-trimmed inside,
   each in the 8 dihedral orientations, and of up to ``pasted_windows`` pictures pasted
   into it (a collage, a page), upright.
2. **Retrieve** — window-hash hits from the index (radius ``hash_radius``, or
   ``hash_radius_turned`` for the flipped/rotated orientations), and works voted
   for by the query's ORB descriptors (``min_votes``): at most ``max_hash_candidates``
   plus ``max_candidates``. A candidate by votes alone goes on only when its vote pairs
   agree on where the work lies (``vote_consistent``): most chance candidates stop here.
3. **Verify** each candidate — geometric (ratio test + RANSAC, ``min_inliers``), or, for a
   work without enough keypoints, the transform implied by the hash hit
   (``hash_accept``); then the photometric tile check (``photometric_min`` /
   ``photometric_min_hash``, from significantly many tiles: ``tile_significance``) under
   that transform. Nothing is reported without both. A match whose agreeing tiles are
   nearly all lone edges (``weak_*``) needs more: a fair part of the work shown and the
   same colours where both sides have colour, else nearly every tile agreeing; on the
   hash path, a close hash.
   A voted candidate that fails keypoint matching while its voters cluster in a small
   part of the query (a work pasted into a composite) is tried once more with denser
   keypoints of that region, scaled up (``region_*``).
4. **Mirror** — if nothing matched, the mirrored query (its keypoints mirrored, described
   again) goes through 2-3 again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np
import numpy.typing as npt

from copyseal.match import _colour, _verify
from copyseal.match._features import (
    Features,
    QueryView,
    mirrored,
    orb_features,
    prepare_query,
)
from copyseal.match._verify import Photometry
from copyseal.match._work import WINDOW_UNITS
from copyseal.match.config import MatchConfig
from copyseal.match.decode import DecodedImage, decode
from copyseal.match.fingerprint import WorkFingerprint
from copyseal.match.result import Match, Transform
from copyseal.match.retrieval import HashHit, RetrievalIndex, VotePairs
from copyseal.match.stores import ColourSource, FingerprintStore

__all__ = ["Match", "Matcher", "Transform"]


@dataclass(frozen=True)
class _Verdict:
    method: str
    matrix: npt.NDArray[np.float64]  # work working px -> query working px
    inliers: int
    photometric: float
    displaced: float
    strength: float
    pairs: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None


class Matcher:
    """Finds registered works in query images.

    Args:
        store: Source of fingerprints for verification.
        index: The retrieval index, any :class:`~copyseal.match.retrieval.RetrievalIndex`
            (kept in step by :meth:`add` / :meth:`remove`).
        config: Thresholds.
        colours: Source of the works' colours for the colour check of matches resting on
            outlines; None: that check is not made (the other ``weak_*`` checks are).
    """

    def __init__(
        self,
        *,
        store: FingerprintStore,
        index: RetrievalIndex,
        config: MatchConfig,
        colours: ColourSource | None = None,
    ) -> None:
        self.store = store
        self.index = index
        self.config = config
        self.colours = colours

    def add(self, work_id: str, fp: WorkFingerprint) -> None:
        """Index a work (its fingerprint must also be retrievable from the store)."""
        self.index.add(work_id, fp, n_descriptors=self.config.retrieval_features)

    def remove(self, work_id: str) -> None:
        """Stop matching a work."""
        self.index.remove(work_id)

    def match(self, image: DecodedImage | bytes, *, name: str = "") -> list[Match]:
        """Every registered work shown in ``image``, best first.

        Raises:
            DecodeError: ``image`` is bytes that are not a usable image.
        """
        if isinstance(image, bytes | bytearray):
            image = decode(
                bytes(image),
                max_pixels=self.config.max_pixels,
                name=name,
                max_frames=self.config.max_frames,
                # Only the matches leave this method, in original pixels: a large JPEG
                # may decode at 1/2-1/8 scale (still >= decode_side >= query_side).
                reduce_to=self.config.decode_side or None,
            )
        best: dict[str, Match] = {}
        with _verify.omp_threads(self.config.threads):
            for i, frame in enumerate(image.frames):
                for m in self._match_frame(frame, i, scale=image.scale):
                    if m.work_id not in best or m.score > best[m.work_id].score:
                        best[m.work_id] = m
        return sorted(best.values(), key=lambda m: (-m.score, m.work_id))

    # -- one frame -----------------------------------------------------------------------

    def _match_frame(
        self, rgb: npt.NDArray[np.uint8], frame: int, *, scale: float = 1.0
    ) -> list[Match]:
        cfg = self.config
        view = prepare_query(rgb, cfg)
        if scale != 1.0:
            # ``rgb`` was decoded reduced (DecodedImage.scale): fold that in, so that
            # ``_to_match`` maps working pixels back to the original's pixels.
            view = replace(view, scale=view.scale * scale)
        first_pasted = len(view.hash_windows) - view.pasted
        radii = [
            cfg.hash_radius
            if d == 0 and i < first_pasted
            else min(cfg.hash_radius, cfg.hash_radius_turned)
            for i, (_, d, _) in enumerate(view.hash_windows)
        ]
        hits = self.index.search_hashes([h for _, _, h in view.hash_windows], radii)
        by_work: dict[str, list[HashHit]] = {}
        for hit in sorted(hits, key=lambda h: (h.distance, h.window, h.query)):
            by_work.setdefault(hit.work_id, []).append(hit)
        found = self._verify_all(view, by_work, mirror=False, frame=frame)
        if not found and cfg.mirror_pass:
            found = self._verify_all(mirrored(view, cfg), {}, mirror=True, frame=frame)
        return found

    def _candidates(
        self, view: QueryView, hash_works: list[str]
    ) -> list[tuple[str, bool, VotePairs | None]]:
        """The closest ``max_hash_candidates`` hash hits (``hash_works`` is sorted by
        distance), then the ``max_candidates`` works with most votes; no duplicates. Each
        comes with whether it had ``min_votes`` (else keypoint matching is skipped: it
        could not reach ``min_inliers`` and costs a few ms) and the vote pairs behind
        its votes."""
        cfg = self.config
        chosen = hash_works[: cfg.max_hash_candidates]
        pairs = self.index.vote_pairs(
            view.features.descriptors[: cfg.vote_features],
            k=cfg.knn,
            max_distance=cfg.vote_distance,
        )
        votes = {w: len(set(p.query_rows.tolist())) for w, p in pairs.items()}
        ranked = sorted(
            (w for w, v in votes.items() if v >= cfg.min_votes and w not in chosen),
            key=lambda w: (-votes[w], w),
        )
        out = [(w, votes.get(w, 0) >= cfg.min_votes, pairs.get(w)) for w in chosen]
        return out + [(w, True, pairs[w]) for w in ranked[: cfg.max_candidates]]

    def _verify_all(
        self, view: QueryView, by_work: dict[str, list[HashHit]], *, mirror: bool, frame: int
    ) -> list[Match]:
        cfg = self.config
        out = []
        regions = [cfg.region_max]  # region passes left for this query
        for work_id, voted, pairs in self._candidates(view, list(by_work)):
            hits = by_work.get(work_id, [])
            try:
                fp = self.store.get(work_id)
            except KeyError:
                continue  # indexed but gone from the store: nothing to verify against
            if voted and not hits and cfg.vote_consistent and pairs is not None:
                # A candidate by votes alone is verified only when its votes agree on where
                # the work lies (MatchConfig.vote_consistent); hash hits are always verified.
                agree = _verify.vote_consistency(
                    fp.points[pairs.work_rows],
                    view.features.points[pairs.query_rows],
                    pairs.distances,
                    threshold=cfg.vote_consistency_px,
                    cell=cfg.vote_cell,
                    min_scale=cfg.vote_min_scale,
                )
                if agree < cfg.vote_consistent:
                    continue
            rows = pairs.voters() if pairs is not None else []
            verdict = self._verify(
                view, fp, hits, geometric=voted, voters=rows, regions=regions, work_id=work_id
            )
            if verdict is None:
                continue
            out.append(
                self._to_match(
                    work_id,
                    fp,
                    view,
                    verdict,
                    hash_distance=hits[0].distance if hits else None,
                    mirror=mirror,
                    frame=frame,
                )
            )
        return out

    def _verify(
        self,
        view: QueryView,
        fp: WorkFingerprint,
        hits: list[HashHit],
        *,
        geometric: bool,
        voters: list[int] | None = None,
        regions: list[int] | None = None,
        work_id: str,
    ) -> _Verdict | None:
        cfg = self.config
        geo = (
            _verify.geometric(view.all_features(), fp.points, fp.descriptors, cfg)
            if geometric
            else None
        )
        if (
            geometric
            and (geo is None or geo.inliers < cfg.min_inliers)
            and (0 if geo is None else geo.inliers) >= cfg.region_min_inliers
            and voters is not None
            and regions is not None
            and regions[0] > 0
        ):
            region = self._region_features(view, voters)
            if region is not None:
                regions[0] -= 1
                geo = _verify.geometric(region, fp.points, fp.descriptors, cfg)
        if geo is not None and geo.inliers >= cfg.min_inliers:
            photo = _verify.photometric(fp.thumbnail, fp.work_size, view.grey, geo.matrix, cfg)
            if _verify.accepted(photo, cfg, minimum=cfg.photometric_min) and (
                not _verify.outlines_only(photo, cfg)
                or self._outlines_hold(work_id, fp, view, photo)
            ):
                strength = 1.0 - math.exp(-geo.inliers / 25.0)
                return _Verdict(
                    "geometric",
                    photo.matrix,
                    geo.inliers,
                    photo.score,
                    photo.displaced,
                    strength,
                    (geo.pairs_work, geo.pairs_query),
                )
        # Global-hash path: the hash hit's own alignment must pass the stricter check.
        ww, wh = fp.work_size
        for hit in hits[:4]:
            if hit.distance > cfg.hash_accept:
                break
            x0, y0, x1, y1 = fp.hashes[hit.window].window
            work_rect = (
                x0 * ww / WINDOW_UNITS,
                y0 * wh / WINDOW_UNITS,
                x1 * ww / WINDOW_UNITS,
                y1 * wh / WINDOW_UNITS,
            )
            rect, dihedral, _ = view.hash_windows[hit.query]
            m = _verify.window_transform(work_rect, rect, dihedral)
            photo = _verify.photometric(fp.thumbnail, fp.work_size, view.grey, m, cfg)
            if _verify.accepted(photo, cfg, minimum=cfg.photometric_min_hash) and (
                not _verify.outlines_only(photo, cfg)
                or photo.tiles >= cfg.weak_tiles
                or hit.distance <= cfg.weak_hash_distance
            ):
                strength = 1.0 - hit.distance / (cfg.hash_accept + 1)
                return _Verdict(
                    "global-hash", photo.matrix, 0, photo.score, photo.displaced, strength, None
                )
        return None

    def _outlines_hold(
        self, work_id: str, fp: WorkFingerprint, view: QueryView, photo: Photometry
    ) -> bool:
        """Whether a keypoint match resting on outlines (``weak_*``) has the evidence such
        a match needs: a fair part of the work shown and, where the work and the aligned
        query both have colour, the same colours; where colour cannot be compared (no
        colour source or no colour of this work, a greyscale side), nearly every tile
        agreeing instead."""
        cfg = self.config
        if _verify.coverage(photo.matrix, fp.work_size, view.grey.shape) < cfg.weak_coverage:
            return False
        share = None
        if self.colours is not None and view.rgb is not None:
            colour = self.colours.colour(work_id)
            if colour is not None:
                h, w = view.grey.shape
                share = _colour.agreement(colour, fp.work_size, view.rgb, (h, w), photo.matrix)
        if share is not None:
            return share >= cfg.weak_colour
        return photo.score >= cfg.weak_photometric

    def _region_features(self, view: QueryView, voters: list[int]) -> Features | None:
        """Fresh, denser ORB features of the part of the query where a candidate's voters
        cluster (points in query working pixels), or None when they do not cluster."""
        cfg = self.config
        if len(voters) < cfg.region_min_votes:
            return None
        pts = view.features.points[np.asarray(voters)]
        qh, qw = view.grey.shape
        # The densest group: the voter with most others within a fifth of the query's
        # side, and those others (chance voters elsewhere in the composite are left out).
        near = np.linalg.norm(pts[:, None, :] - pts[None, :, :], axis=2) <= 0.2 * max(qw, qh)
        members = pts[near[int(np.argmax(near.sum(axis=1)))]]
        if len(members) < max(cfg.region_min_votes, len(pts) / 2):
            return None  # no group holding most of the voters: not a pasted work
        lo = np.percentile(members, 10, axis=0)
        hi = np.percentile(members, 90, axis=0)
        if (hi - lo).prod() > cfg.region_max_area * qw * qh:
            return None
        centre, half = (lo + hi) / 2, (hi - lo) / 2 * 1.6 + 40
        x0, y0 = np.maximum(0, centre - half).astype(int)
        x1, y1 = np.minimum([qw, qh], centre + half).astype(int)
        if x1 - x0 < 32 or y1 - y0 < 32:
            return None
        crop = view.grey[y0:y1, x0:x1]
        f = min(cfg.query_side / max(crop.shape), max(1.0, cfg.region_side / min(crop.shape)))
        if f != 1.0:
            size = (max(1, round(crop.shape[1] * f)), max(1, round(crop.shape[0] * f)))
            interp = cv2.INTER_CUBIC if f > 1 else cv2.INTER_AREA
            crop = np.asarray(cv2.resize(crop, size, interpolation=interp), dtype=np.uint8)
        feats = orb_features(crop, cfg.region_features, cfg, spread=cfg.query_spread)
        if len(feats.points) == 0:
            return None
        sx, sy = (x1 - x0) / crop.shape[1], (y1 - y0) / crop.shape[0]
        points = feats.points * np.array([sx, sy], np.float32) + np.array([x0, y0], np.float32)
        return Features(points=points.astype(np.float32), descriptors=feats.descriptors)

    def _to_match(
        self,
        work_id: str,
        fp: WorkFingerprint,
        view: QueryView,
        v: _Verdict,
        *,
        hash_distance: int | None,
        mirror: bool,
        frame: int,
    ) -> Match:
        ww, wh = fp.work_size
        qh, qw = view.grey.shape
        # original work px -> working px -> query working px -> (unmirror) -> query px
        to_work = np.diag([ww / fp.width, wh / fp.height, 1.0])
        m = v.matrix @ to_work
        if mirror:
            m = np.array([[-1.0, 0.0, qw], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ m
        m = np.diag([1 / view.scale, 1 / view.scale, 1.0]) @ m
        corners = np.array(
            [[0, 0, 1], [fp.width, 0, 1], [fp.width, fp.height, 1], [0, fp.height, 1]], float
        )
        proj = (m @ corners.T).T
        quad = (proj[:, :2] / proj[:, 2:3]).astype(np.float32)
        region = _clip_to_rect(quad, qw / view.scale, qh / view.scale)
        pairs: tuple[tuple[tuple[float, float], tuple[float, float]], ...] = ()
        if v.pairs is not None:
            pw, pq = v.pairs
            pw = pw * np.array([fp.width / ww, fp.height / wh], dtype=np.float32)
            if mirror:
                pq = np.column_stack([qw - pq[:, 0], pq[:, 1]])
            pq = (pq / view.scale).astype(np.float32)
            pairs = tuple(
                ((float(a[0]), float(a[1])), (float(b[0]), float(b[1])))
                for a, b in zip(pw[:200], pq[:200], strict=True)
            )
        return Match(
            work_id=work_id,
            score=round(
                float(
                    max(0.0, v.photometric - self.config.displaced_weight * v.displaced)
                    * v.strength
                ),
                4,
            ),
            method=v.method,
            hash_distance=hash_distance,
            inliers=v.inliers,
            transform=Transform.from_matrix(m),
            photometric=round(v.photometric, 4),
            displaced=round(v.displaced, 4),
            region=region,
            frame=frame,
            inlier_pairs=pairs,
        )


def _clip_to_rect(
    quad: npt.NDArray[np.float32], w: float, h: float
) -> tuple[tuple[float, float], ...]:
    """Intersection of a convex quadrilateral with the query rectangle."""
    rect = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    # Orientation matters to intersectConvexConvex; a mirrored quad is clockwise.
    q = quad if cv2.contourArea(quad, oriented=True) >= 0 else quad[::-1]
    area, poly = cv2.intersectConvexConvex(np.ascontiguousarray(q), rect)
    if poly is None or area <= 0:
        return tuple((float(x), float(y)) for x, y in quad)
    return tuple((round(float(x), 2), round(float(y), 2)) for x, y in poly.reshape(-1, 2))
