"""The conformance kit of the retrieval index seam: what every ``RetrievalIndex`` must do.

Each ``check_*`` function takes the index class under test and the fingerprints of real
photos (``fingerprints``: registered works; ``others``: photos never added) and asserts
one property the engine and the workspace's index cache rely on. ``test_indexes.py`` runs
every check against every entry of :data:`copyseal.match.INDEXES`; a new backend passes
them all before it is listed there (the model: perception's shared hasher tests,
``test_image_hasher_integrity(hasher=...)``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from copyseal.errors import MatchError
from copyseal.match import HashHit, ImageHash, RetrievalIndex, WorkFingerprint
from copyseal.match.fingerprint import WindowHash

#: Descriptors indexed per work (the engine's ``retrieval_features`` is of this order).
N_DESC = 300

Fingerprints = dict[str, WorkFingerprint]
Kind = type[RetrievalIndex]


def _filled(kind: Kind, fingerprints: Fingerprints) -> RetrievalIndex:
    index = kind()
    for work_id, fp in fingerprints.items():
        index.add(work_id, fp, n_descriptors=N_DESC)
    return index


def _flip(h: ImageHash, n: int) -> ImageHash:
    bits = np.unpackbits(h.to_array())
    bits[:n] ^= 1
    return ImageHash(data=np.packbits(bits).tobytes())


def _key(hits: list[HashHit]) -> list[tuple[str, int, int, int]]:
    return [(h.work_id, h.window, h.query, h.distance) for h in hits]


def _top(votes: dict[str, list[int]]) -> str:
    return max(votes, key=lambda w: (len(votes[w]), w))


def check_empty_index_finds_nothing(kind: Kind, fingerprints: Fingerprints, **_: object) -> None:
    index = kind()
    fp = next(iter(fingerprints.values()))
    index.prepare_search()
    assert len(index) == 0 and index.work_ids() == [] and "any" not in index
    assert index.search_hashes([fp.global_hash], 64) == []
    assert index.search_hashes([], 8) == []
    assert index.voters(fp.descriptors[:N_DESC], k=3, max_distance=256) == {}
    assert index.vote_pairs(fp.descriptors[:N_DESC], k=3, max_distance=256) == {}


def check_added_hashes_are_found_within_the_radius(
    kind: Kind, fingerprints: Fingerprints, **_: object
) -> None:
    """Every window hash of every work is found at distance 0, and a hash ``n`` bits away
    is found at radius ``n`` (the radius is inclusive) but not at ``n - 1``."""
    index = _filled(kind, fingerprints)
    index.prepare_search()
    assert len(index) == len(fingerprints)
    assert index.work_ids() == list(fingerprints)
    for work_id, fp in fingerprints.items():
        assert work_id in index
        queries = [wh.hash for wh in fp.hashes]
        hits = [h for h in index.search_hashes(queries, 0) if h.work_id == work_id]
        assert {(h.window, h.query) for h in hits} >= {(i, i) for i in range(len(queries))}
        assert all(h.distance == 0 for h in hits)
        for n in (1, 5, 9):
            near = _flip(fp.global_hash, n)
            at = [h for h in index.search_hashes([near], n) if h.work_id == work_id]
            assert (0, n) in {(h.window, h.distance) for h in at}
            below = [h for h in index.search_hashes([near], n - 1) if h.work_id == work_id]
            assert 0 not in {h.window for h in below}


def check_one_radius_per_query_hash(kind: Kind, fingerprints: Fingerprints, **_: object) -> None:
    """Per-query radii apply to their own query hash; hits come ordered by query."""
    index = _filled(kind, fingerprints)
    names = list(fingerprints)
    queries = [_flip(fingerprints[w].global_hash, 6) for w in names]
    radii = [6 if i % 2 == 0 else 5 for i in range(len(queries))]
    hits = index.search_hashes(queries, radii)
    assert [h.query for h in hits] == sorted(h.query for h in hits)
    for i, work_id in enumerate(names):
        found = any(h.query == i and h.work_id == work_id and h.window == 0 for h in hits)
        assert found == (radii[i] == 6)
        assert all(h.distance <= radii[i] for h in hits if h.query == i)
    assert _key(index.search_hashes(queries, radii)) == _key(hits)  # deterministic


def check_descriptors_vote_for_their_work(
    kind: Kind, fingerprints: Fingerprints, **_: object
) -> None:
    index = _filled(kind, fingerprints)
    for work_id, fp in fingerprints.items():
        query = fp.descriptors[:N_DESC]
        votes = index.voters(query, k=3, max_distance=10)
        assert _top(votes) == work_id
        for rows in votes.values():
            assert len(rows) == len(set(rows)) and all(0 <= r < len(query) for r in rows)


def check_vote_pairs_name_the_work_keypoint_of_each_vote(
    kind: Kind, fingerprints: Fingerprints, **_: object
) -> None:
    """A work's own descriptors vote for it through themselves (row i pairs with its row
    i at distance 0), and the pairs agree with :meth:`voters`."""
    index = _filled(kind, fingerprints)
    for work_id, fp in fingerprints.items():
        query = fp.descriptors[:N_DESC]
        pairs = index.vote_pairs(query, k=3, max_distance=10)
        assert {w: p.voters() for w, p in pairs.items()} == index.voters(
            query, k=3, max_distance=10
        )
        own = pairs[work_id]
        assert len(own.query_rows) == len(own.work_rows) == len(own.distances)
        exact = own.distances == 0
        assert exact.sum() >= 0.9 * len(query)
        # A distance-0 pair is the row itself or an identical descriptor of the work.
        same = (fp.descriptors[own.work_rows[exact]] == query[own.query_rows[exact]]).all()
        assert bool(same)
        assert (own.distances <= 10).all() and (np.diff(own.query_rows) >= 0).all()


def check_remove_hides_a_work(kind: Kind, fingerprints: Fingerprints, **_: object) -> None:
    index = _filled(kind, fingerprints)
    gone, fp = next(iter(fingerprints.items()))
    index.remove(gone)
    index.remove(gone)  # idempotent
    index.remove("never-added")
    assert gone not in index and len(index) == len(fingerprints) - 1
    assert gone not in index.work_ids()
    assert all(h.work_id != gone for h in index.search_hashes([fp.global_hash], 10))
    assert gone not in index.voters(fp.descriptors[:N_DESC], k=3, max_distance=10)
    index.add(gone, fp, n_descriptors=N_DESC)
    index.add(gone, fp, n_descriptors=N_DESC)  # re-adding replaces, never duplicates
    hits = [h for h in index.search_hashes([fp.global_hash], 0) if h.work_id == gone]
    assert len(hits) == len({h.window for h in hits}) >= 1
    assert _top(index.voters(fp.descriptors[:N_DESC], k=3, max_distance=10)) == gone


def check_add_many_equals_adding_each(kind: Kind, fingerprints: Fingerprints, **_: object) -> None:
    one_by_one = _filled(kind, fingerprints)
    bulk = kind()
    bulk.add_many(iter(fingerprints.items()), n_descriptors=N_DESC)
    assert bulk.work_ids() == one_by_one.work_ids()
    queries = [_flip(fp.global_hash, 3) for fp in fingerprints.values()]
    assert _key(bulk.search_hashes(queries, 8)) == _key(one_by_one.search_hashes(queries, 8))
    for work_id, fp in fingerprints.items():
        assert _top(bulk.voters(fp.descriptors[:N_DESC], k=3, max_distance=10)) == work_id


def check_save_and_load_round_trip(
    kind: Kind, fingerprints: Fingerprints, tmp_path: Path, **_: object
) -> None:
    index = _filled(kind, fingerprints)
    first, *rest = fingerprints
    index.remove(first)
    path = tmp_path / "index.idx"
    index.save(path)
    back = kind.load(path)
    assert back.work_ids() == index.work_ids() and len(back) == len(index)
    queries = [_flip(fp.global_hash, 4) for fp in fingerprints.values()]
    assert _key(back.search_hashes(queries, 10)) == _key(index.search_hashes(queries, 10))
    for work_id in rest:
        desc = fingerprints[work_id].descriptors[:N_DESC]
        assert back.voters(desc, k=3, max_distance=10) == index.voters(desc, k=3, max_distance=10)
    back.add(first, fingerprints[first], n_descriptors=N_DESC)  # a loaded index grows
    assert first in back and first not in index
    index.save(path)  # saving again replaces the file, and leaves nothing beside it
    assert kind.load(path).work_ids() == index.work_ids()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.idx"]


def check_load_refuses_what_save_did_not_write(
    kind: Kind, fingerprints: Fingerprints, tmp_path: Path, **_: object
) -> None:
    with pytest.raises(MatchError):
        kind.load(tmp_path / "missing.idx")
    garbage = tmp_path / "garbage.idx"
    garbage.write_bytes(b"not an index at all")
    with pytest.raises(MatchError):
        kind.load(garbage)
    good = tmp_path / "good.idx"
    _filled(kind, fingerprints).save(good)
    data = good.read_bytes()
    for name, bad in (
        ("truncated", data[: len(data) // 2]),
        ("flipped", data[:-40] + bytes([data[-40] ^ 0xFF]) + data[-39:]),
        ("empty", b""),
    ):
        path = tmp_path / f"{name}.idx"
        path.write_bytes(bad)
        with pytest.raises(MatchError):
            kind.load(path)


def check_hashes_of_another_width_are_refused(
    kind: Kind, fingerprints: Fingerprints, **_: object
) -> None:
    index = _filled(kind, fingerprints)
    fp = next(iter(fingerprints.values()))
    wide = ImageHash(data=bytes(16))  # a 128-bit hash
    odd = WorkFingerprint(
        width=fp.width,
        height=fp.height,
        work_size=fp.work_size,
        hashes=(WindowHash(window=(0, 0, 10_000, 10_000), hash=wide),),
        points=fp.points,
        descriptors=fp.descriptors,
        thumbnail_png=fp.thumbnail_png,
    )
    with pytest.raises(MatchError):
        index.add("wide", odd, n_descriptors=N_DESC)
    assert "wide" not in index
    with pytest.raises(MatchError):
        index.search_hashes([wide], 4)


def check_unregistered_photos_are_not_retrieved(
    kind: Kind, fingerprints: Fingerprints, others: Fingerprints, **_: object
) -> None:
    """Photos never added find no window hash at the engine's turned radius (8): exact
    retrieval has no false hits on unrelated pictures."""
    index = _filled(kind, fingerprints)
    for fp in others.values():
        assert index.search_hashes([wh.hash for wh in fp.hashes], 8) == []


Check = Callable[..., None]

#: Every check of the kit, by name.
CHECKS: dict[str, Check] = {
    name.removeprefix("check_"): fn
    for name, fn in sorted(globals().items())
    if name.startswith("check_") and callable(fn)
}
