"""MatchIndex: radius semantics, add/remove, inverted-file switch, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from copyseal.errors import MatchError
from copyseal.match import ImageHash, MatchIndex, WorkFingerprint


def _flip(h: ImageHash, n: int) -> ImageHash:
    bits = np.unpackbits(h.to_array())
    bits[:n] ^= 1
    return ImageHash(data=np.packbits(bits).tobytes())


@pytest.fixture
def index(fingerprints: dict[str, WorkFingerprint]) -> MatchIndex:
    idx = MatchIndex()
    for work_id, fp in fingerprints.items():
        idx.add(work_id, fp, n_descriptors=300)
    return idx


def test_counts(index: MatchIndex, fingerprints: dict[str, WorkFingerprint]) -> None:
    assert len(index) == len(fingerprints)
    assert index.n_hashes == sum(len(fp.hashes) for fp in fingerprints.values())
    expected = sum(min(300, len(fp.descriptors)) for fp in fingerprints.values())
    assert index.n_descriptors == expected


def test_radius_is_inclusive(index: MatchIndex, fingerprints: dict[str, WorkFingerprint]) -> None:
    h = fingerprints["coffee"].global_hash
    at5 = _flip(h, 5)
    hits = [x for x in index.search_hashes([at5], 5) if x.work_id == "coffee" and x.window == 0]
    assert [x.distance for x in hits] == [5]
    assert not [x for x in index.search_hashes([at5], 4) if x.work_id == "coffee" and x.window == 0]


def test_votes_find_the_work(index: MatchIndex, fingerprints: dict[str, WorkFingerprint]) -> None:
    votes = index.vote(fingerprints["chelsea"].descriptors[:300], k=3, max_distance=10)
    assert max(votes, key=lambda w: votes[w]) == "chelsea"
    assert votes["chelsea"] == 300


def test_remove_and_readd(index: MatchIndex, fingerprints: dict[str, WorkFingerprint]) -> None:
    before = index.n_hashes
    index.remove("coffee")
    assert "coffee" not in index and len(index) == len(fingerprints) - 1
    assert index.n_hashes == before - len(fingerprints["coffee"].hashes)
    hits = index.search_hashes([fingerprints["coffee"].global_hash], 0)
    assert all(h.work_id != "coffee" for h in hits)
    assert "coffee" not in index.vote(fingerprints["coffee"].descriptors, k=3, max_distance=0)
    index.remove("coffee")  # idempotent
    index.add("coffee", fingerprints["coffee"], n_descriptors=300)
    assert index.search_hashes([fingerprints["coffee"].global_hash], 0)[0].work_id == "coffee"
    index.add("coffee", fingerprints["coffee"], n_descriptors=300)  # re-add replaces
    assert index.n_hashes == before


def test_save_and_load(
    index: MatchIndex, fingerprints: dict[str, WorkFingerprint], tmp_path: Path
) -> None:
    index.remove("astronaut")
    path = tmp_path / "match.idx"
    index.save(path)
    back = MatchIndex.load(path)
    assert back.work_ids() == index.work_ids()
    assert back.n_hashes == index.n_hashes and back.n_descriptors == index.n_descriptors
    q = [fingerprints["chelsea"].global_hash]
    assert back.search_hashes(q, 3) == index.search_hashes(q, 3)
    back.add("astronaut", fingerprints["astronaut"], n_descriptors=300)
    assert "astronaut" in back


def test_load_refuses_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"not an index")
    with pytest.raises(MatchError, match="not a copyseal match index"):
        MatchIndex.load(bad)
    with pytest.raises(MatchError, match="cannot read"):
        MatchIndex.load(tmp_path / "missing.idx")
    good = tmp_path / "good.idx"
    MatchIndex().save(good)
    good.write_bytes(good.read_bytes()[:-5])
    with pytest.raises(MatchError, match="corrupt"):
        MatchIndex.load(good)


def test_switches_to_inverted_file(
    fingerprints: dict[str, WorkFingerprint], tmp_path: Path
) -> None:
    idx = MatchIndex(ivf_threshold=1000, nprobe=8)
    for work_id, fp in fingerprints.items():
        idx.add(work_id, fp, n_descriptors=300)
    assert idx._is_ivf
    votes = idx.vote(fingerprints["coffee"].descriptors[:300], k=3, max_distance=10)
    assert max(votes, key=lambda w: votes[w]) == "coffee" and votes["coffee"] >= 250
    idx.remove("coffee")
    assert "coffee" not in idx.vote(fingerprints["coffee"].descriptors[:300], k=3, max_distance=10)
    idx.save(tmp_path / "ivf.idx")
    back = MatchIndex.load(tmp_path / "ivf.idx")
    votes = back.vote(fingerprints["chelsea"].descriptors[:300], k=3, max_distance=10)
    assert max(votes, key=lambda w: votes[w]) == "chelsea"


def test_optimize_rebuilds_an_inverted_file_without_losing_codes(
    fingerprints: dict[str, WorkFingerprint],
) -> None:
    idx = MatchIndex(ivf_threshold=1000, nprobe=64)
    for work_id, fp in fingerprints.items():
        idx.add(work_id, fp, n_descriptors=300)
    before = idx.n_descriptors
    codes, ids = idx._all_descriptors()
    idx.optimize()  # from an inverted file to a new one
    assert idx.n_descriptors == before
    codes2, ids2 = idx._all_descriptors()
    order, order2 = np.argsort(ids), np.argsort(ids2)
    np.testing.assert_array_equal(ids[order], ids2[order2])
    np.testing.assert_array_equal(codes[order], codes2[order2])
    votes = idx.vote(fingerprints["astronaut"].descriptors[:300], k=3, max_distance=10)
    assert max(votes, key=lambda w: votes[w]) == "astronaut"
