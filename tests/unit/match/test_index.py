"""FaissIndex: radius semantics, add/remove, inverted-file switch, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from copyseal.errors import MatchError
from copyseal.match import FaissIndex, ImageHash, WorkFingerprint


def _flip(h: ImageHash, n: int) -> ImageHash:
    bits = np.unpackbits(h.to_array())
    bits[:n] ^= 1
    return ImageHash(data=np.packbits(bits).tobytes())


@pytest.fixture
def index(fingerprints: dict[str, WorkFingerprint]) -> FaissIndex:
    idx = FaissIndex()
    for work_id, fp in fingerprints.items():
        idx.add(work_id, fp, n_descriptors=300)
    return idx


def test_counts(index: FaissIndex, fingerprints: dict[str, WorkFingerprint]) -> None:
    assert len(index) == len(fingerprints)
    assert index.n_hashes == sum(len(fp.hashes) for fp in fingerprints.values())
    expected = sum(min(300, len(fp.descriptors)) for fp in fingerprints.values())
    assert index.n_descriptors == expected


def test_radius_is_inclusive(index: FaissIndex, fingerprints: dict[str, WorkFingerprint]) -> None:
    h = fingerprints["coffee"].global_hash
    at5 = _flip(h, 5)
    hits = [x for x in index.search_hashes([at5], 5) if x.work_id == "coffee" and x.window == 0]
    assert [x.distance for x in hits] == [5]
    assert not [x for x in index.search_hashes([at5], 4) if x.work_id == "coffee" and x.window == 0]


def test_votes_find_the_work(index: FaissIndex, fingerprints: dict[str, WorkFingerprint]) -> None:
    votes = index.vote(fingerprints["chelsea"].descriptors[:300], k=3, max_distance=10)
    assert max(votes, key=lambda w: votes[w]) == "chelsea"
    assert votes["chelsea"] == 300


def test_remove_and_readd(index: FaissIndex, fingerprints: dict[str, WorkFingerprint]) -> None:
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
    index: FaissIndex, fingerprints: dict[str, WorkFingerprint], tmp_path: Path
) -> None:
    index.remove("astronaut")
    path = tmp_path / "match.idx"
    index.save(path)
    back = FaissIndex.load(path)
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
        FaissIndex.load(bad)
    with pytest.raises(MatchError, match="cannot read"):
        FaissIndex.load(tmp_path / "missing.idx")
    good = tmp_path / "good.idx"
    FaissIndex().save(good)
    good.write_bytes(good.read_bytes()[:-5])
    with pytest.raises(MatchError, match="corrupt"):
        FaissIndex.load(good)


def _inverted(fingerprints: dict[str, WorkFingerprint], *, nprobe: int) -> FaissIndex:
    """Every work's first 300 descriptors, in an inverted file from 1,000 on."""
    idx = FaissIndex(ivf_threshold=1000, nprobe=nprobe)
    for work_id, fp in fingerprints.items():
        idx.add(work_id, fp, n_descriptors=300)
    assert idx._is_ivf
    return idx


def test_switches_to_inverted_file(
    fingerprints: dict[str, WorkFingerprint], tmp_path: Path
) -> None:
    idx = _inverted(fingerprints, nprobe=8)
    votes = idx.vote(fingerprints["coffee"].descriptors[:300], k=3, max_distance=10)
    assert max(votes, key=lambda w: votes[w]) == "coffee" and votes["coffee"] >= 250
    idx.remove("coffee")
    assert "coffee" not in idx.vote(fingerprints["coffee"].descriptors[:300], k=3, max_distance=10)
    idx.save(tmp_path / "ivf.idx")
    back = FaissIndex.load(tmp_path / "ivf.idx")
    votes = back.vote(fingerprints["chelsea"].descriptors[:300], k=3, max_distance=10)
    assert max(votes, key=lambda w: votes[w]) == "chelsea"


def test_nprobe_set_after_training_applies_to_the_next_search(
    fingerprints: dict[str, WorkFingerprint],
) -> None:
    idx = _inverted(fingerprints, nprobe=1)
    # Descriptors a few bits away from a work's: with one list visited some of their
    # neighbours sit in lists not visited; with every list visited the search is exact.
    rng = np.random.default_rng(3)
    query = fingerprints["coffee"].descriptors[:300].copy()
    query ^= (rng.random(query.shape) < 0.06).astype(np.uint8) << rng.integers(
        0, 8, query.shape, dtype=np.uint8
    )
    one = idx.vote(query, k=3, max_distance=48).get("coffee", 0)
    idx.nprobe = 10_000
    every = idx.vote(query, k=3, max_distance=48).get("coffee", 0)
    assert idx.nprobe == 10_000 and every > one
    with pytest.raises(MatchError, match="nprobe"):
        idx.nprobe = 0


def test_optimize_rebuilds_an_inverted_file_without_losing_codes(
    fingerprints: dict[str, WorkFingerprint],
) -> None:
    idx = _inverted(fingerprints, nprobe=64)
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


def test_add_many_trains_the_inverted_file_once_at_the_end(
    fingerprints: dict[str, WorkFingerprint],
) -> None:
    """A bulk load trains the inverted file once, over every descriptor; adding one by one
    trains it as soon as the threshold is crossed (on fewer descriptors)."""
    bulk = FaissIndex(ivf_threshold=500, nprobe=8)
    bulk.add_many(fingerprints.items(), n_descriptors=300)
    assert bulk._is_ivf and bulk._trained_at == bulk.n_descriptors
    assert bulk.ivf_threshold == 500  # restored after the load
    one_by_one = FaissIndex(ivf_threshold=500, nprobe=8)
    for work_id, fp in fingerprints.items():
        one_by_one.add(work_id, fp, n_descriptors=300)
    assert one_by_one._trained_at < bulk._trained_at
    small = FaissIndex(ivf_threshold=10**6)
    small.add_many(fingerprints.items(), n_descriptors=300)
    assert not small._is_ivf and small.work_ids() == list(fingerprints)
    votes = bulk.vote(fingerprints["coffee"].descriptors[:300], k=3, max_distance=10)
    assert max(votes, key=lambda w: votes[w]) == "coffee"


def _hash_only(codes: np.ndarray) -> WorkFingerprint:
    from copyseal.match.fingerprint import WindowHash

    return WorkFingerprint(
        width=1,
        height=1,
        work_size=(1, 1),
        hashes=tuple(
            WindowHash(window=(0, 0, 10_000, 10_000), hash=ImageHash(data=c.tobytes()))
            for c in codes
        ),
        points=np.zeros((0, 2), np.float32),
        descriptors=np.zeros((0, 32), np.uint8),
        thumbnail_png=b"",
    )


def _brute(
    works: dict[str, np.ndarray], queries: list[ImageHash], radii: list[int]
) -> set[tuple[str, int, int, int]]:
    out = set()
    for qi, (q, r) in enumerate(zip(queries, radii, strict=True)):
        qv = np.unpackbits(q.to_array())
        for work_id, codes in works.items():
            d = (np.unpackbits(codes, axis=1) != qv).sum(axis=1)
            out |= {(work_id, int(w), qi, int(d[w])) for w in np.flatnonzero(d <= r)}
    return out


def test_chunk_tables_are_exact_against_brute_force() -> None:
    """Multi-index hashing (small radii) and the flat scan agree with brute force,
    for one radius or one per query hash, after adds (scanned, then rebuilt) and
    removals."""
    rng = np.random.default_rng(7)
    idx = FaissIndex(mih_min_hashes=0)  # use the chunk tables at this small size
    works: dict[str, np.ndarray] = {}

    def add(n: int, start: int) -> None:
        for w in range(start, start + n):
            codes = rng.integers(0, 256, (5, 8), dtype=np.uint8)
            works[f"w{w}"] = codes
            idx.add(f"w{w}", _hash_only(codes), n_descriptors=0)

    add(600, 0)
    anchors = [works[f"w{i}"][i % 5] for i in range(0, 600, 37)]
    queries = []
    for i, a in enumerate(anchors):  # near neighbours at every distance 0..16, and random
        bits = np.unpackbits(a)
        bits[rng.choice(64, size=i % 17, replace=False)] ^= 1
        queries.append(ImageHash(data=np.packbits(bits).tobytes()))
    queries += [ImageHash(data=rng.bytes(8)) for _ in range(4)]

    def check() -> None:
        for radius in (0, 3, 8, 11, 16):
            radii = [radius] * len(queries)
            got = {
                (h.work_id, h.window, h.query, h.distance)
                for h in idx.search_hashes(queries, radius)
            }
            assert got == _brute(works, queries, radii)
        mixed = [int(r) for r in rng.integers(0, 17, len(queries))]
        hits = idx.search_hashes(queries, mixed)
        assert [h.query for h in hits] == sorted(h.query for h in hits)
        assert {(h.work_id, h.window, h.query, h.distance) for h in hits} == _brute(
            works, queries, mixed
        )

    check()
    assert idx._mih is not None
    add(50, 600)  # kept beside the tables and scanned
    queries.append(ImageHash(data=works["w620"][2].tobytes()))
    check()
    for w in ("w3", "w37", "w610"):
        idx.remove(w)
        del works[w]
    idx.add("w37", _hash_only(works["w74"]), n_descriptors=0)  # re-added under another slot
    works["w37"] = works["w74"]
    check()
    add(900, 1000)  # enough to make the tables stale: rebuilt from the flat index
    check()
    assert idx._mih is not None and idx._mih.n_pending == 0
    with pytest.raises(ValueError, match="one radius per query hash"):
        idx.search_hashes(queries, [1, 2])


@pytest.fixture
def ivf_file(fingerprints: dict[str, WorkFingerprint], tmp_path: Path) -> tuple[FaissIndex, Path]:
    idx = _inverted(fingerprints, nprobe=8)
    path = tmp_path / "ivf.idx"
    idx.save(path)
    return idx, path


def _votes(idx: FaissIndex, fingerprints: dict[str, WorkFingerprint]) -> list[dict[str, int]]:
    return [idx.vote(fp.descriptors[:300], k=3, max_distance=40) for fp in fingerprints.values()]


def test_a_loaded_inverted_file_is_mapped_from_the_file(
    ivf_file: tuple[FaissIndex, Path], fingerprints: dict[str, WorkFingerprint]
) -> None:
    """Processes loading one cached index share its pages: the inverted lists are views of
    the file (listed in /proc/self/maps), with the same answers as the built index."""
    built, path = ivf_file
    back = FaissIndex.load(path)
    assert back._mapped
    maps = Path("/proc/self/maps").read_text()
    assert str(path.resolve()) in maps
    assert _votes(back, fingerprints) == _votes(built, fingerprints)


def test_a_mapped_index_is_copied_before_it_changes(
    ivf_file: tuple[FaissIndex, Path], fingerprints: dict[str, WorkFingerprint]
) -> None:
    """FAISS aborts the process on a change to a mapped index: add and remove copy it into
    memory first, and then answer as the built index given the same changes."""
    built, path = ivf_file
    back = FaissIndex.load(path)
    back.remove("coffee")
    assert not back._mapped
    built.remove("coffee")
    assert _votes(back, fingerprints) == _votes(built, fingerprints)
    again = FaissIndex.load(path)
    again.add("coffee2", fingerprints["coffee"], n_descriptors=300)
    assert "coffee2" in again.vote(fingerprints["coffee"].descriptors[:300], k=3, max_distance=0)


def test_a_file_replaced_after_loading_leaves_the_loaded_index_alone(
    ivf_file: tuple[FaissIndex, Path], fingerprints: dict[str, WorkFingerprint]
) -> None:
    _, path = ivf_file
    back = FaissIndex.load(path)
    before = _votes(back, fingerprints)
    FaissIndex().save(path)  # an atomic replace, as the workspace's cache does
    assert _votes(back, fingerprints) == before
    assert len(FaissIndex.load(path)) == 0


def test_an_altered_byte_anywhere_is_refused(ivf_file: tuple[FaissIndex, Path]) -> None:
    _, path = ivf_file
    data = bytearray(path.read_bytes())
    for at in (100, len(data) // 2, len(data) - 40):
        bad = path.with_name(f"bad{at}.idx")
        changed = bytearray(data)
        changed[at] ^= 1
        bad.write_bytes(bytes(changed))
        with pytest.raises(MatchError, match="corrupt"):
            FaissIndex.load(bad)


def test_version_2_files_still_load(
    index: FaissIndex, fingerprints: dict[str, WorkFingerprint], tmp_path: Path
) -> None:
    """The layout before the descriptor index moved to the front: magic, then each blob
    with its u64 length, then the SHA-256 of all that."""
    import hashlib
    import json
    import struct

    import faiss

    header = json.dumps(
        {
            "slots": index._slots,
            "ivf": False,
            "trained_at": 0,
            "ivf_threshold": index.ivf_threshold,
            "nprobe": index.nprobe,
        }
    ).encode()
    body = b"CSIDX2\n"
    for blob in (
        header,
        faiss.serialize_index_binary(index._hashes).tobytes(),
        faiss.serialize_index_binary(index._descs).tobytes(),
    ):
        body += struct.pack("<Q", len(blob)) + blob
    path = tmp_path / "v2.idx"
    path.write_bytes(body + hashlib.sha256(body).digest())
    back = FaissIndex.load(path)
    assert back.work_ids() == index.work_ids() and not back._mapped
    assert _votes(back, fingerprints) == _votes(index, fingerprints)
    path.write_bytes(body + bytes(32))
    with pytest.raises(MatchError, match="checksum"):
        FaissIndex.load(path)


def test_the_file_mapped_is_the_file_checked(
    ivf_file: tuple[FaissIndex, Path],
    fingerprints: dict[str, WorkFingerprint],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another process replacing the cache (an atomic rename) between the checksum and the
    mapping: the index loaded is still the one whose checksum was read."""
    from copyseal.match import _index_file

    built, path = ivf_file
    real = _index_file._can_map

    def replaced_meanwhile(f):  # type: ignore[no-untyped-def]
        FaissIndex().save(path)
        return real(f)

    monkeypatch.setattr(_index_file, "_can_map", replaced_meanwhile)
    back = FaissIndex.load(path)
    assert back._mapped and len(back) == len(built)
    assert _votes(back, fingerprints) == _votes(built, fingerprints)


def test_a_mapped_index_outlives_its_file_and_saves_again(
    ivf_file: tuple[FaissIndex, Path], fingerprints: dict[str, WorkFingerprint]
) -> None:
    built, path = ivf_file
    back = FaissIndex.load(path)
    path.unlink()  # the workspace drops older caches while processes still map them
    assert _votes(back, fingerprints) == _votes(built, fingerprints)
    again = path.with_name("again.idx")
    back.save(again)
    assert _votes(FaissIndex.load(again), fingerprints) == _votes(built, fingerprints)


def test_an_inverted_file_that_cannot_be_mapped_is_read(
    ivf_file: tuple[FaissIndex, Path],
    fingerprints: dict[str, WorkFingerprint],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from copyseal.match import _index_file

    built, path = ivf_file
    monkeypatch.setattr(_index_file, "_can_map", lambda f: False)
    back = FaissIndex.load(path)
    assert not back._mapped
    assert _votes(back, fingerprints) == _votes(built, fingerprints)
    back.optimize()
    back.remove("coffee")  # in memory: no copy needed, no abort
    assert "coffee" not in back


def _resealed(data: bytes) -> bytes:
    """``data`` (a version 3 file without its trailer) with a valid SHA-256 trailer."""
    import hashlib

    return data + hashlib.sha256(data).digest()


def test_well_sealed_nonsense_is_refused(ivf_file: tuple[FaissIndex, Path], tmp_path: Path) -> None:
    """A file whose checksum is right but whose content is not an index (a header that is
    not an object, lengths that do not add up) is refused with MatchError, never another
    exception."""
    import struct

    import faiss

    from copyseal.match._index_file import write_index_file

    bad = tmp_path / "list-header.idx"
    write_index_file(bad, [1], faiss.IndexBinaryFlat(64), faiss.IndexBinaryFlat(256))  # type: ignore[arg-type]
    with pytest.raises(MatchError, match="header is not an object"):
        FaissIndex.load(bad)
    _, path = ivf_file
    body = bytearray(path.read_bytes()[:-32])
    lengths_at = len(body) - len(b"CSIDX3\n") - 24
    n_descs, n_hashes, n_header = struct.unpack_from("<QQQ", body, lengths_at)
    struct.pack_into("<QQQ", body, lengths_at, n_descs + 1, n_hashes, n_header)
    bad.write_bytes(_resealed(bytes(body)))
    with pytest.raises(MatchError, match="inconsistent lengths"):
        FaissIndex.load(bad)
