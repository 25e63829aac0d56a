"""Every threshold of the matcher, in one frozen settings object.

Each field's comment names the measurement it was calibrated on; the numbers come from
``benchmarks/match_accuracy.py`` (19 registered photos x 45 seeded edits, 7 unregistered
photos x 8 edits and two same-scene pairs) unless said otherwise. ``config.yaml`` overrides
them under ``match.engine`` (:class:`copyseal.config.MatchSettings`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from copyseal.errors import MatchError

__all__ = ["MatchConfig"]


@dataclass(frozen=True, kw_only=True)
class MatchConfig:
    """Thresholds and sizes of the matching engine.

    Attributes:
        max_pixels: Decoder refuses images declaring more pixels (decompression bombs).
            100 MP covers every camera on sale and is ~300 MB of RGB.
        max_frames: Frames sampled from an animated GIF/WebP; each is matched.
        work_side: Longest side (px) works are reduced to before feature extraction.
            512 gave the same recall as 640 on crops/embeds for 25 % less time (exp. 1).
        work_min_side: A work whose longest side is smaller has its keypoints detected on
            it enlarged to this (its hashes and colours come from the pixels it has), as a
            small query is enlarged to ``query_min_side``: a 102 px work (scikit-image's
            microaneurysms) gave 10 keypoints, almost all within ORB's 31 px patch of the
            middle. ``match_hard_end.py``: 40-50 % crops of works of 102-128 px found
            0.17 -> 0.75 (holdout photos reduced to 128 px) and 0.82 -> 0.96 (untuned set,
            with ``faint_*`` and ``thumb_min_side``), the tuned set unchanged at 384; at 512
            a 50 % crop of flower_left (427 px) was lost.
        query_side: Longest side (px) a query is reduced to. Composites need the
            resolution: at 1024 a 30 %-wide embed still spans ~300 px.
        query_min_side: Queries whose longest side is smaller are upscaled to it, so that
            ORB (31 px patches) finds features on small crops and thumbnails.
        decode_side: A JPEG query given as bytes is decoded at 1/2, 1/4 or 1/8 scale
            (libjpeg's scaled IDCT, ``decode(reduce_to=...)``), its longest side no
            smaller than this, then reduced to ``query_side``; 0 decodes in full. A 12 MP
            JPEG then costs ~25 ms to decode instead of ~130. Measured on the 266 hard
            queries of ``match_accuracy.py`` (crop 50-40 %, embed 30-50 %, combo) enlarged
            and saved as JPEG (``benchmarks/decode.py --accuracy --hard``): at 1024 (=
            ``query_side``) 4 found after a full decode were missed and none gained (other
            runs: 6 lost, 1 gained); at 1536, 2 lost at 2.2x and 0 at 1.5x ``query_side``
            (the worst case), the noise level: enlarging the queries 1 % more flips 2.
        work_features: ORB keypoints kept per work (spread over a grid, strongest first).
        retrieval_features: How many of those (the first, i.e. strongest and spread) go to
            the descriptor retrieval index. A 30 % embed of the fine-textured grass got
            only 2 votes with 300 (8 with 500: its strongest keypoints are fine-scale ones
            the embed no longer shows). All 1000 (the default) give the vote pre-check
            (``vote_consistent``) enough pairs on crops and embeds: with 300, copies found
            on the keypoint path had as few as 2 consistent pairs and no threshold kept
            them all while dropping most chance candidates; with 1000 every one had >= 4.
            The descriptor index is 3.3x larger (32 bytes a descriptor plus an 8-byte id:
            ~40 MB per 1,000 works) and is an inverted file from ``FaissIndex``'s
            ``ivf_threshold`` on, so a query's votes cost ~2-5 ms at 100 works.
        query_features: ORB keypoints extracted from a query.
        query_spread: Detect this many times ``query_features`` keypoints and keep the
            best of each grid cell in turn, so that a work pasted beside a busier photo
            still gets keypoints (1 keeps the globally strongest).
        orb_levels: ORB pyramid levels; 12 levels of 1.2 span a 7.4x scale range, needed
            to match a work at 512 px against a 30 % embed.
        orb_scale: ORB pyramid scale factor.
        fast_threshold: FAST corner threshold; 10 (not OpenCV's 20) finds corners on
            low-contrast photos (moon, clock).
        query_fast_threshold: FAST threshold of a second detection for a query that
            gave fewer than ``query_sparse`` keypoints at ``fast_threshold`` (works keep
            ``fast_threshold``: changing these needs no new fingerprints).
        query_sparse: See ``query_fast_threshold``. A 40 % crop of a low-contrast work,
            enlarged to ``query_min_side``, gave 24 (clock) and 40 (retina) keypoints at 10
            and was missed; at 7 they gave 70 and 156 and were found (``match_hard_end.py``).
            Textured queries are not affected: at 7 for every query, a 40 % crop of page
            was lost and a flat negative (JPEG-compressed shapes, 1,076 keypoints at 10)
            was falsely matched (11 inliers) in ``match_negatives.py``.
        faint_threshold: FAST threshold of one more detection for a work or query that
            still has fewer than ``faint_sparse`` keypoints (a work after detection at
            ``fast_threshold``, a query after ``query_fast_threshold``) and was enlarged at
            least ``faint_min_scale`` times: nearly featureless pictures (microaneurysms,
            102 px, enlarged to ``work_min_side``: 29 keypoints at 10, 566 at 4; a 41 px
            crop of it enlarged to ``query_min_side``: 15 at 7, 46 at 4).
        faint_min_scale: A work or query gets the ``faint_threshold`` detection only when
            it was enlarged at least this many times (to ``work_min_side`` or
            ``query_min_side``): enlarging smooths the
            differences FAST compares over its 3 px circle by about that factor, while a
            flat graphic at its own size (a logo, a screenshot) has few corners because it
            has few, and more sensitive detection finds only its JPEG noise. For every
            sparse work and query it cost 6 % more CPU per unrelated image at 100 works
            (colorwheel, 371 px: 113 keypoints at 4 on smooth hues drew votes).
        faint_sparse: See ``faint_threshold``; 0 turns that detection off.
        thumb_side: Longest side of the greyscale thumbnail kept for the photometric check.
        thumb_min_side: A work's thumbnail is enlarged to at least this longest side: a
            40 % crop of a 102 px work spans ~2 tiles of ``tile_size`` at its own size, too
            few for ``tile_significance``; at 192 it spans 7-16.
        hash_windows: Centred windows (fraction of each side) of the work whose pHash is
            indexed, besides the whole image; they give a candidate for centred crops of
            low-texture works that have no keypoints.
        hash_radius: pHash distance (of 64 bits) at which the index proposes a candidate.
            Textured photos' copies under resize/JPEG/colour edits measured <= 8, but the
            flat colorwheel's under gamma/hue/sepia/letterbox measured 12-16 (16 raised
            its recall from 12/45 to 33/45 with no false positive); candidates are verified.
            Applies to the query's hashes in its own orientation (whole and trimmed).
        hash_radius_turned: The same for the seven flipped/rotated orientations of the
            query's hashes. Mirrored and 90-degree-rotated copies measured 0-2 (all 19
            works); the 10-16 seen were chance hits of symmetric works (clock, colorwheel)
            in a wrong orientation. 8 lets the index answer them by multi-index hashing
            (~0.3 % of the codes read instead of all), which keeps a query at 10^6 hashes
            near the cost of the one or two radius-16 hashes.
        pasted_windows: Most pictures pasted into a query (a collage, a page: rectangles
            whose four sides are edges, :mod:`copyseal.match._pasted`) whose pHash is
            searched too, upright, at ``hash_radius_turned``; 0 searches none. A work
            pasted whole keeps its own pHash: the nine 30-50 % embeds of low-texture works
            ``match_hard_end.py`` missed were within 0-2 bits of it. 8, the largest
            first: at 4 the four tiles of a 2 x 2 collage took every place (the clock
            pasted at 30 % was 6th). ~1 ms a query (detection at 512 px).
        hash_accept: Largest pHash distance that may serve as evidence on the global-hash
            path (works without enough keypoints), always with the photometric check: the
            stereo pair is at distance 4, so a hash alone proves nothing.
        ratio: Lowe's ratio test (SIFT paper, 2004) for descriptor matches.
        ransac_threshold: RANSAC reprojection threshold in query working pixels.
        min_inliers: Fewest RANSAC inliers for the geometric path. Unrelated candidates
            reached 10 inliers but then photometric <= 0.08; copies went as low as 9
            (a 30 % embed of chelsea, photometric 0.99), so the photometric check decides.
        vote_distance: Hamming distance (of 256) under which a query descriptor's neighbour
            in the retrieval index votes for its work.
        min_votes: Votes a work needs to become a candidate.
        vote_features: Query descriptors (the first, i.e. spread, ones) used for voting;
            retrieval cost is linear in it (~25 ms for 600 at 10^4 works, inverted file).
        max_candidates: Most candidates from descriptor votes verified per query.
        vote_consistent: A voted candidate goes to keypoint verification only when at
            least this many of its vote pairs (the query keypoint and the work keypoint of
            each vote, one pair per ``vote_cell`` px cell of either image) fit one
            similarity transform within ``vote_consistency_px``; 0 verifies every voted
            candidate. Votes alone are weak evidence: over 100 works (19 photos, 6 shapes
            pictures, 75 textures) a negative had ~11 candidates with 3 or more votes and
            each cost a 2,000 x 1,000 ratio match and RANSAC. Measured on
            ``match_accuracy.py``'s queries and 300 crawl-site images against those 100
            works (``retrieval_features`` 1000): every copy found on the keypoint path had
            >= 4 consistent pairs, while 6.5 % of the wrongly voted candidates had.
        vote_consistency_px: RANSAC threshold of that check, in query working pixels
            (looser than ``ransac_threshold``: the voting keypoints are the coarse ones).
        vote_min_scale: ... and only when that transform shows the work at least this
            large (query working px per work working px; a fit shrinking it more counts
            as none). Chance fits shrink wildly: against 100 works (``match_accuracy.py``'s
            and the hard-end queries, 900 crawl-site images) 205 of 1,152 unrelated
            candidates that passed the count had a fit below 0.125 (the work's 512 px side
            at 64 px), every copy found on that path 0.25 or more. Yet 0.125, and 0.1,
            lost a mirrored 60 % crop of a text page (``page``) in the 19-work index: its
            vote fit was itself a chance one that keypoint matching then corrected
            (repeated glyphs give few true vote pairs). Hence 0.05 (the bound before).
        vote_cell: Cell size (px) deduplicating vote pairs, so that many votes from one
            spot (a texture, repeated keypoints across pyramid levels) count once.
        max_hash_candidates: Most candidates from hash hits (closest first) verified per
            query. Uncapped, 10^4 works gave 20-40 hash hits at radius 16 that crowded
            out the voted candidates (found 0.70 instead of 0.95 in match_speed).
        knn: Neighbours fetched per query descriptor during retrieval.
        tile_size: Side (thumbnail pixels) of the tiles of the photometric check.
        tile_min_std: A tile is used only if the work's pixels there vary (std > this);
            flat tiles say nothing about alignment. 3 (was 6) lets low-contrast works be
            checked: 50 % crops of retina and centred 40 % crops of microaneurysms and
            flower_right had fewer than ``min_tiles`` usable tiles at 6 (untuned crops
            50-40 % 0.679 -> 0.821 in ``match_hard_end.py``); ``match_accuracy.py``: no
            family lower, 0 false positives; ``match_negatives.py --count 1400 --works
            100``: 0 false matches, CPU ms per negative unchanged.
        tile_corr: A tile agrees when the Pearson correlation of work and aligned query
            exceeds this.
        min_tiles: Fewest usable tiles for any photometric decision.
        photometric_min: Photometric evidence (see ``displaced_weight``) needed on the
            geometric path. Unrelated candidates with >= 8 inliers: <= 0.08; the stereo
            views: <= 0.17; the weakest copies (heavy text watermark on a crop): 0.40-0.47.
        photometric_min_hash: The same for the global-hash path, stricter because there
            is no keypoint evidence (hash-path copies scored >= 0.6 but for one at 0.40).
        tile_chance: How often a tile of an unrelated candidate agrees by chance (the
            null rate of the tile test below). Unrelated photos agreed on <= 0.08 of
            their tiles (``photometric_min``), but edge-only pictures more: a
            ``binary_blobs`` pattern agreed on 4 of 10 tiles of a flat coloured-shapes
            picture (a step edge correlates with any step edge of like orientation);
            0.2 is taken, above the photos' rate.
        tile_significance: The agreeing tiles must be significant: the chance of at
            least that many of the usable tiles agreeing, each with probability
            ``tile_chance`` (binomial tail), must be at most this. The blobs false match
            (4 of 10): 0.12; the weakest copies in ``match_accuracy.py`` (5 of 7 tiles
            of a 40 % crop of retina, 6 of 9 of a mirrored 60 % crop of rocket): 0.005
            and 0.003. A few agreeing tiles are no evidence, whatever their fraction.
        tile_coherence: An agreeing tile is distinctive when the structure-tensor
            coherence of the work there is below this (1: one straight edge or a ramp).
        min_distinct_tiles: Fewest distinctive agreeing tiles for any match. The outline
            of one flat shape agrees with the same shape anywhere: logos (a circle or
            polygon and letters) matched the like shape of a coloured-shapes work with
            7-18 agreeing tiles, none distinctive (``match_negatives.py``, 8 false matches
            in 700); every copy in ``match_accuracy.py`` had at least 1 (colorwheel
            brightened, a 40 % crop of rocket: 1; most have dozens).
        weak_distinct: A match with at most this many distinctive agreeing tiles
            (:attr:`~copyseal.match._verify.Photometry.distinct`) rests on outlines, which
            another picture's like shapes also give; it must pass the checks below too
            (0: none). ``match_negatives.py`` (20,000 negatives in two sets, 100 works):
            the 24 false matches of flat graphics and logos to a coloured-shapes work had
            1-6; so had 87 of the 1,144 copies found among ``match_accuracy.py``'s
            queries, every edit of the 6 shapes works and the crawl site's copies (crops
            of flat or smooth works, mostly 40-60 %). Such a match is held to more evidence
            rather than refused.
        weak_coverage: On the keypoint path, such a match must show at least this
            fraction of the work's area (those copies: >= 0.147, a 40 % crop being 0.16;
            the false match that agreed on all 4 of its tiles: 0.085) ...
        weak_colour: ... and, when the matcher has the works' colours (the workspace's
            reads each work's kept original) and both the work and the aligned query have
            colour there, at least this share of their coloured pixels must agree in
            CIELAB chroma (``copyseal.match._colour``): the false matches of flat graphics
            and logos to coloured-shapes works agreed on 0.00-0.24, copies aligned right
            on 0.82-1.00 (among them a crawl-site copy of a shapes work agreeing on only
            0.75 of its tiles). Copies whose colours were changed (toned sepia, a hue
            shift) are refused when they rest on outlines: a sepia 60 % crop of a shapes
            work agreed on 0.06. The hash path has no colour check (its weak matches need
            a close hash instead): the colour edits of ``colorwheel`` found there agree on
            0.51-0.61, its sepia copy on 0.03.
        weak_photometric: ... where colour cannot be compared (no colours, a greyscale
            work or query), at least this fraction of its tiles must agree instead. The
            false ones agreed on 0.41-0.93 (and one on 1.0, refused by ``weak_coverage``);
            the copies that agreed on less (0.47-0.67: two mirrored shapes pictures, a
            mirrored moon, a crop of moon) had been aligned wrongly, and with this check
            each was found instead on the hash path or the mirror pass, agreeing on 1.0.
        weak_tiles: On the global-hash path, such a match checked on fewer than this many
            usable tiles ...
        weak_hash_distance: ... needs a hash within this distance: those copies had 0-8
            (centred 40-50 % crops of flat and smooth works), the false one 16. With
            these five checks no copy of those queries (nor of ``match_hard_end.py``'s
            untuned set) was lost and the 22 false matches were gone.
        displaced_weight: The photometric evidence is ``photometric - displaced_weight *
            displaced``, where ``displaced`` is the fraction of tiles that agree only after
            a 1-2 px shift (parallax). After ECC refinement the stereo views scored
            photometric 0.44-0.46 with displaced 0.14-0.16 (evidence <= 0.17); copies had
            displaced <= 0.11 and evidence >= 0.40 (text watermarks are the lowest).
        ecc_skip: Evidence above which the keypoint alignment is trusted as is; below it
            the alignment is refined by ECC (~5-25 ms) before the final comparison.
        ecc_min: ... unless fewer than this fraction of tiles agree at first: a wrong
            candidate (unrelated photos scored <= 0.08) is not worth refining, while the
            worst copy seen before refinement (a 30 % embed) scored 0.30.
        region_min_votes: A voted candidate whose keypoint matching failed gets a second
            try on the part of the query its voters lie in (a work pasted small into a
            composite): when it had at least this many voters ...
        region_min_inliers: ... and its keypoint matching on the whole query got
            partway, at least this many RANSAC inliers (the clock at 40 % had 5): of 491
            region passes of unrelated candidates in the measurement of ``vote_min_scale``,
            230 started from fewer than 4 (80 from no fit at all), and none found anything.
        region_max_area: ... and the box of the densest group of them (those within a
            fifth of the query's side of one voter, at least half of all voters; its
            middle 80 %) covers at most this fraction of the query. The box (enlarged
            1.6x, plus 40 px) is cut out, scaled to at least ``region_side`` px and
            described by ``region_features`` fresh ORB keypoints; the geometric and
            photometric checks are then the usual ones. It found the low-texture clock
            pasted at 40 % (6 inliers on the whole collage, 50 on the region,
            photometric 1.0); the 30 % one's voters are scattered (no region).
        region_side: Shortest side (px) the region is scaled up to (longest at most
            ``query_side``).
        region_features: ORB keypoints extracted from the region.
        region_max: Most region passes per query (each costs ~10-20 ms); 2 found no more
            than 1 in the benchmark.
        mirror_pass: When nothing matched, search again with the mirrored query (ORB
            descriptors are not mirror-invariant).
        threads: OpenMP threads for the FAISS searches of one query (0: FAISS's default).
            One is fastest on a shared 2-core machine; run queries in parallel instead.
    """

    max_pixels: int = 100_000_000
    max_frames: int = 4
    work_side: int = 512
    work_min_side: int = 384
    query_side: int = 1024
    query_min_side: int = 512
    decode_side: int = 1536
    work_features: int = 1000
    retrieval_features: int = 1000
    query_features: int = 2000
    query_spread: float = 2.0
    orb_levels: int = 12
    orb_scale: float = 1.2
    fast_threshold: int = 10
    query_fast_threshold: int = 7
    query_sparse: int = 200
    faint_threshold: int = 4
    faint_sparse: int = 60
    faint_min_scale: float = 2.0
    thumb_side: int = 256
    thumb_min_side: int = 192
    hash_windows: tuple[float, ...] = (0.85, 0.7, 0.55, 0.4)
    hash_radius: int = 16
    hash_radius_turned: int = 8
    pasted_windows: int = 8
    hash_accept: int = 16
    ratio: float = 0.8
    ransac_threshold: float = 4.0
    min_inliers: int = 8
    vote_distance: int = 48
    min_votes: int = 3
    vote_features: int = 600
    max_candidates: int = 6
    vote_consistent: int = 4
    vote_consistency_px: float = 10.0
    vote_min_scale: float = 0.05
    vote_cell: float = 4.0
    max_hash_candidates: int = 3
    knn: int = 3
    tile_size: int = 16
    tile_min_std: float = 3.0
    tile_corr: float = 0.8
    min_tiles: int = 4
    photometric_min: float = 0.4
    photometric_min_hash: float = 0.5
    tile_chance: float = 0.2
    tile_significance: float = 0.01
    tile_coherence: float = 0.8
    min_distinct_tiles: int = 1
    weak_distinct: int = 8
    weak_coverage: float = 0.12
    weak_colour: float = 0.6
    weak_photometric: float = 0.95
    weak_tiles: int = 20
    weak_hash_distance: int = 10
    displaced_weight: float = 2.0
    ecc_skip: float = 0.85
    ecc_min: float = 0.2
    region_min_votes: int = 8
    region_min_inliers: int = 4
    region_max_area: float = 0.35
    region_side: int = 768
    region_features: int = 1500
    region_max: int = 1
    mirror_pass: bool = True
    threads: int = 1

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                raise MatchError(f"match.{f.name} must not be negative (got {value})")
        if not 0 < self.ratio <= 1:
            raise MatchError(f"match.ratio must be in (0, 1] (got {self.ratio})")
        if 0 < self.decode_side < self.query_side:
            raise MatchError("match.decode_side must be 0 or at least match.query_side")
        for small, large in (("work_min_side", "work_side"), ("thumb_min_side", "thumb_side")):
            if getattr(self, small) > getattr(self, large):
                raise MatchError(f"match.{small} cannot exceed match.{large}")
        if self.retrieval_features > self.work_features:
            raise MatchError("match.retrieval_features cannot exceed match.work_features")

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> MatchConfig:
        """Build from a ``match:`` mapping (e.g. from config.yaml); unknown keys are errors."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise MatchError(f"unknown match settings: {', '.join(unknown)}")
        clean = dict(values)
        if "hash_windows" in clean:
            clean["hash_windows"] = tuple(float(x) for x in clean["hash_windows"])
        try:
            return cls(**clean)
        except TypeError as e:
            raise MatchError(f"invalid match settings: {e}") from e
