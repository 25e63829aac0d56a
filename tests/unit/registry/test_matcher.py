"""The workspace matcher: cached retrieval index, lazy fingerprints, exact lookups."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

from copyseal.db.models import WorkFingerprint
from copyseal.match import FaissIndex, Match, RetrievalIndex
from copyseal.match import WorkFingerprint as Fingerprint
from copyseal.registry import ExactMatch, WorkRecord, build_matcher, register_paths, remove_work
from copyseal.registry import _index_cache as C
from copyseal.registry import _matcher as M
from copyseal.workspace import Workspace


def _register(ws: Workspace, *paths: Path) -> dict[str, str]:
    out = {}
    for r in register_paths(ws, list(paths)):
        assert isinstance(r, WorkRecord), r
        out[str(r.title)] = r.work_id
    return out


def _jpeg(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def _queries(photos: dict[str, np.ndarray]) -> list[bytes]:
    """Edited copies: a 70 % off-centre crop, a half-size resize, a mirror."""
    a, c = photos["astronaut"], photos["chelsea"]
    h, w = a.shape[:2]
    crop = np.ascontiguousarray(a[h // 10 : h // 10 + int(0.7 * h), : int(0.7 * w)])
    small = np.asarray(Image.fromarray(c).resize((c.shape[1] // 2, c.shape[0] // 2)))
    return [_jpeg(crop), _jpeg(small), _jpeg(np.ascontiguousarray(a[:, ::-1]))]


def _json(found: Any) -> list[dict[str, Any]]:
    return [m.to_json() for m in found]


def _cache_files(ws: Workspace) -> list[Path]:
    return sorted(C.index_dir(ws.settings).glob("match-*.idx"))


def test_cache_is_written_then_reused(
    workspace: Workspace,
    photo_files: dict[str, Path],
    photos: dict[str, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = _register(workspace, photo_files["astronaut"], photo_files["chelsea"])
    first = build_matcher(workspace.engine, workspace.settings)
    (cached,) = _cache_files(workspace)
    stamp = cached.stat().st_mtime_ns

    def no_rebuild(*args: object, **kwargs: object) -> None:
        raise AssertionError("the index was rebuilt despite a valid cache")

    parsed = []
    real_parse = Fingerprint.from_bytes

    def counting(data: bytes) -> Fingerprint:
        parsed.append(1)
        return real_parse(data)

    monkeypatch.setattr(C, "_build_index", no_rebuild)
    monkeypatch.setattr(Fingerprint, "from_bytes", staticmethod(counting))
    second = build_matcher(workspace.engine, workspace.settings)
    assert _cache_files(workspace) == [cached] and cached.stat().st_mtime_ns == stamp
    assert parsed == []  # no fingerprint read at start on a cache hit
    assert sorted(second.matcher.index.work_ids()) == sorted(ids.values())
    crop, small, mirror = _queries(photos)
    for q in (crop, small, mirror):
        assert _json(first.match(q)) == _json(second.match(q))
    assert [m.work_id for m in second.match(small)] == [ids["chelsea"]]
    assert parsed  # fingerprints are fetched when a candidate is verified


def test_matches_identical_with_and_without_cache(
    workspace: Workspace, photo_files: dict[str, Path], photos: dict[str, np.ndarray]
) -> None:
    ids = _register(workspace, *photo_files.values())
    uncached = build_matcher(workspace.engine, workspace.settings, use_cache=False)
    assert _cache_files(workspace) == []
    build_matcher(workspace.engine, workspace.settings)  # writes the cache
    cached = build_matcher(workspace.engine, workspace.settings)  # reads it
    found = 0
    for q in _queries(photos):
        a, b = uncached.match(q), cached.match(q)
        assert _json(a) == _json(b)
        found += bool(a)
    assert found == 3
    original = photo_files["rocket"].read_bytes()
    (exact,) = cached.match(original)
    assert isinstance(exact, ExactMatch) and exact.work_id == ids["rocket"]


def test_registration_and_removal_update_the_cache(
    workspace: Workspace,
    photo_files: dict[str, Path],
    photos: dict[str, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = _register(workspace, photo_files["astronaut"], photo_files["coffee"])
    build_matcher(workspace.engine, workspace.settings)
    (before,) = _cache_files(workspace)
    ids |= _register(workspace, photo_files["chelsea"])
    real_build = C._build_index
    rebuilt = []

    def counting(*args: Any) -> RetrievalIndex:
        rebuilt.append(1)
        return real_build(*args)

    monkeypatch.setattr(C, "_build_index", counting)
    matcher = build_matcher(workspace.engine, workspace.settings)
    assert rebuilt == []  # the cached index was updated, not rebuilt
    (after,) = _cache_files(workspace)
    assert after != before and not before.exists()
    fresh = build_matcher(workspace.engine, workspace.settings, use_cache=False)
    assert rebuilt == [1]
    for q in _queries(photos):
        assert _json(matcher.match(q)) == _json(fresh.match(q))
    small = _queries(photos)[1]
    assert [m.work_id for m in matcher.match(small)] == [ids["chelsea"]]
    remove_work(workspace, ids["chelsea"])
    matcher = build_matcher(workspace.engine, workspace.settings)
    assert rebuilt == [1]
    assert _cache_files(workspace) == [before]  # the same works as at first: the same key
    assert matcher.match(small) == []
    assert ids["chelsea"] not in matcher.matcher.index
    assert sorted(matcher.matcher.index.work_ids()) == sorted([ids["astronaut"], ids["coffee"]])
    again = build_matcher(workspace.engine, workspace.settings)  # a plain cache hit
    assert _json(again.match(_queries(photos)[0])) == _json(matcher.match(_queries(photos)[0]))


def test_other_config_is_not_a_base(
    workspace: Workspace, photo_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _register(workspace, photo_files["astronaut"])
    build_matcher(workspace.engine, workspace.settings)
    settings = workspace.settings.model_copy(
        update={"match": workspace.settings.match.model_copy(update={"engine": {"min_inliers": 9}})}
    )
    rebuilt = []
    real_build = C._build_index

    def counting(*args: Any) -> RetrievalIndex:
        rebuilt.append(1)
        return real_build(*args)

    monkeypatch.setattr(C, "_build_index", counting)
    matcher = build_matcher(workspace.engine, settings)
    assert rebuilt == [1] and matcher.config.min_inliers == 9
    assert len(_cache_files(workspace)) == 1


def test_corrupt_cache_is_rebuilt_with_a_warning(
    workspace: Workspace,
    photo_files: dict[str, Path],
    photos: dict[str, np.ndarray],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _register(workspace, photo_files["astronaut"], photo_files["chelsea"])
    good = _json(build_matcher(workspace.engine, workspace.settings).match(_queries(photos)[0]))
    (cached,) = _cache_files(workspace)
    data = bytearray(cached.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside a FAISS blob
    cached.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger=C.log.name):
        matcher = build_matcher(workspace.engine, workspace.settings)
    assert "rebuilding" in caplog.text
    assert _json(matcher.match(_queries(photos)[0])) == good
    FaissIndex.load(cached)  # rewritten, valid again
    cached.write_bytes(b"garbage")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=C.log.name):
        matcher = build_matcher(workspace.engine, workspace.settings)
    assert "rebuilding" in caplog.text
    assert _json(matcher.match(_queries(photos)[0])) == good


def test_unreadable_cache_folder_still_matches(
    workspace: Workspace, photo_files: dict[str, Path], photos: dict[str, np.ndarray]
) -> None:
    _register(workspace, photo_files["chelsea"])
    C.index_dir(workspace.settings).parent.mkdir(parents=True, exist_ok=True)
    C.index_dir(workspace.settings).write_text("a file where the folder should be")
    matcher = build_matcher(workspace.engine, workspace.settings)
    assert len(matcher.match(_queries(photos)[1])) == 1


def test_other_scheme_rows_are_skipped(
    workspace: Workspace,
    photo_files: dict[str, Path],
    photos: dict[str, np.ndarray],
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = _register(workspace, photo_files["astronaut"], photo_files["chelsea"])
    with workspace.engine.begin() as conn:
        conn.execute(
            sa.update(WorkFingerprint)
            .where(WorkFingerprint.work_id == ids["chelsea"])
            .values(scheme="copyseal-fp/0", data=b"old layout")
        )
    with caplog.at_level(logging.WARNING, logger=M.log.name):
        matcher = build_matcher(workspace.engine, workspace.settings)
    assert "another scheme" in caplog.text
    assert matcher.matcher.index.work_ids() == [ids["astronaut"]]
    assert matcher.match(_queries(photos)[1]) == []  # chelsea: exact copies only
    (exact,) = matcher.match(photo_files["chelsea"].read_bytes())
    assert isinstance(exact, ExactMatch)
    crop = matcher.match(_queries(photos)[0])
    assert [m.work_id for m in crop] == [ids["astronaut"]]
    assert isinstance(crop[0], Match)


def test_db_store_is_lazy_and_bounded(workspace: Workspace, photo_files: dict[str, Path]) -> None:
    ids = _register(workspace, *photo_files.values())
    with workspace.engine.connect() as conn:
        digests = dict(
            conn.execute(sa.select(WorkFingerprint.work_id, WorkFingerprint.digest)).all()
        )
    store = M.DbFingerprintStore(workspace.engine, digests, cache_size=2)
    for name in ("astronaut", "chelsea", "rocket", "chelsea"):
        fp = store.get(ids[name])
        assert fp.digest() == digests[ids[name]]
    assert list(store._cache) == [ids["rocket"], ids["chelsea"]]
    with pytest.raises(KeyError):
        store.get("no-such-work")
    stale = M.DbFingerprintStore(workspace.engine, {ids["coffee"]: "0" * 64})
    with pytest.raises(KeyError):
        stale.get(ids["coffee"])  # the row changed since the index was built
