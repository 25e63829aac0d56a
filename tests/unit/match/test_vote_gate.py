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
