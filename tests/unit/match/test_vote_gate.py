"""The vote-consistency pre-check: votes that agree on where a work lies, and votes that
do not (chance neighbours, one textured spot voting many times)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from skimage.data import astronaut, coffee

from copyseal.match import DecodedImage, FaissIndex, InMemoryStore, MatchConfig, Matcher
from copyseal.match import fingerprint as make_fingerprint
from copyseal.match._verify import vote_consistency


def _similar(points: np.ndarray, scale: float, angle: float, shift: tuple[float, float]):
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return (points @ np.array([[c, s], [-s, c]]) + np.array(shift)).astype(np.float32)


def _work_points() -> np.ndarray:
    fp = make_fingerprint(DecodedImage.from_array(astronaut()), config=MatchConfig())
    return fp.points[:200].astype(np.float32)


def test_pairs_under_one_similarity_are_counted_and_outliers_are_not() -> None:
    work = _work_points()
    rng = np.random.default_rng(1)
    query = _similar(work, 1.7, 0.3, (40.0, -15.0))
    true = vote_consistency(work[:12], query[:12], np.zeros(12, np.int32), threshold=10, cell=4)
    assert true >= 11
    # 12 true pairs among 60 chance ones: the true ones are still found.
    noise = rng.uniform(0, 900, (60, 2)).astype(np.float32)
    w = np.concatenate([work[:12], work[12:72]])
    q = np.concatenate([query[:12], noise])
    assert vote_consistency(w, q, np.full(72, 30, np.int32), threshold=10, cell=4) >= 11
    # Chance pairs alone: nothing much agrees.
    assert vote_consistency(work[:60], noise, np.full(60, 30, np.int32), threshold=10, cell=4) < 4


def test_one_spot_voting_many_times_counts_once() -> None:
    work = _work_points()[:40]
    spot = np.full((40, 2), 300.0, np.float32) + np.random.default_rng(2).uniform(0, 3, (40, 2))
    # Without the per-cell deduplication a transform shrinking the work onto the spot
    # would explain all 40 pairs.
    got = vote_consistency(
        work, spot.astype(np.float32), np.zeros(40, np.int32), threshold=10, cell=4
    )
    assert got < 4


def _jpeg(rgb: np.ndarray, q: int = 80) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=q)
    return buf.getvalue()


def test_the_pre_check_keeps_an_off_centre_crop_found_by_keypoints() -> None:
    cfg = MatchConfig()
    store, index = InMemoryStore(), FaissIndex()
    matcher = Matcher(store=store, index=index, config=cfg)
    for name, rgb in (("astronaut", astronaut()), ("coffee", coffee())):
        fp = make_fingerprint(DecodedImage.from_array(rgb), config=cfg)
        store.put(name, fp)
        matcher.add(name, fp)
    crop = np.ascontiguousarray(astronaut()[60:330, 150:420])  # a 53 % off-centre crop
    found = matcher.match(_jpeg(crop))
    assert [m.work_id for m in found] == ["astronaut"]
    assert found[0].method == "geometric"
    # Off, the same answer: the pre-check only skips candidates that could not verify.
    off = Matcher(store=store, index=index, config=MatchConfig(vote_consistent=0))
    assert [m.work_id for m in off.match(_jpeg(crop))] == ["astronaut"]


def test_chance_candidates_of_an_unrelated_photo_are_not_verified(monkeypatch) -> None:
    from skimage.data import camera, chelsea, coins, rocket

    from copyseal.match import _verify

    cfg = MatchConfig()
    store, index = InMemoryStore(), FaissIndex()
    for name, rgb in (
        ("astronaut", astronaut()),
        ("coffee", coffee()),
        ("chelsea", chelsea()),
        ("rocket", rocket()),
        ("camera", camera()),
    ):
        fp = make_fingerprint(DecodedImage.from_array(rgb), config=cfg)
        store.put(name, fp)
        index.add(name, fp, n_descriptors=cfg.retrieval_features)
    calls: list[int] = []
    real = _verify.geometric

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_verify, "geometric", counted)
    query = _jpeg(np.ascontiguousarray(coins()[:, :, None].repeat(3, axis=2)))
    results = {}
    for gate in (0, 4):
        calls.clear()
        matcher = Matcher(store=store, index=index, config=MatchConfig(vote_consistent=gate))
        results[gate] = (matcher.match(query), len(calls))
    assert results[0][0] == results[4][0] == []
    # Without the pre-check every voted candidate is verified; with it, fewer (none here).
    assert results[0][1] > results[4][1]


def test_a_fit_showing_the_work_too_small_to_verify_counts_as_none() -> None:
    """``vote_min_scale``: pairs agreeing on a transform that shrinks the 512 px work
    below 64 px are a chance fit (a copy that small cannot be verified)."""
    work = _work_points()[:30]
    zeros = np.zeros(30, np.int32)
    small = _similar(work, 0.1, 0.2, (300.0, 200.0))
    assert vote_consistency(work, small, zeros, threshold=10, cell=4, min_scale=0.05) >= 20
    assert vote_consistency(work, small, zeros, threshold=10, cell=4, min_scale=0.125) == 0
    fair = _similar(work, 0.3, 0.2, (300.0, 200.0))
    assert vote_consistency(work, fair, zeros, threshold=10, cell=4, min_scale=0.125) >= 20


def test_no_region_pass_when_the_whole_query_got_nowhere(monkeypatch) -> None:
    """``region_min_inliers``: a candidate whose keypoint matching on the whole query found
    fewer inliers gets no second, costly pass on its voters' region."""
    from skimage.data import camera, chelsea, coins, rocket

    from copyseal.match import engine

    cfg = MatchConfig()
    store, index = InMemoryStore(), FaissIndex()
    for name, rgb in (("chelsea", chelsea()), ("rocket", rocket()), ("camera", camera())):
        fp = make_fingerprint(DecodedImage.from_array(rgb), config=cfg)
        store.put(name, fp)
        index.add(name, fp, n_descriptors=cfg.retrieval_features)
    passes: list[int] = []
    real = engine.Matcher._region_features

    def counted(self, view, voters):  # type: ignore[no-untyped-def]
        passes.append(1)
        return real(self, view, voters)

    monkeypatch.setattr(engine.Matcher, "_region_features", counted)
    # Every candidate verified (no vote pre-check) and the region pass allowed from any
    # inlier count: an unrelated photo's chance candidates get region passes.
    loose = MatchConfig(vote_consistent=0, region_min_inliers=0, region_min_votes=3)
    query = _jpeg(np.ascontiguousarray(coins()[:, :, None].repeat(3, axis=2)))
    assert Matcher(store=store, index=index, config=loose).match(query) == []
    assert passes
    passes.clear()
    strict = MatchConfig(vote_consistent=0, region_min_inliers=100, region_min_votes=3)
    assert Matcher(store=store, index=index, config=strict).match(query) == []
    assert passes == []
