"""The conformance kit of the matcher seam: what every ``WorkMatcher`` must do.

Each ``check_*`` function takes a matcher factory (an entry of
:data:`copyseal.registry.MATCHERS`), a fresh workspace and real photos, registers what it
needs, and asserts one property the crawl, sealing and ``copyseal match`` rely on.
``test_matchers.py`` runs every check against every factory (the model: perception's
shared hasher tests, ``test_image_hasher_integrity(hasher=...)``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import delete

from copyseal.db.models import WorkFingerprint
from copyseal.errors import MatchError
from copyseal.match import DecodedImage, Match, render_overlay
from copyseal.registry import (
    MatcherFactory,
    WorkMatcher,
    WorkRecord,
    register_paths,
    remove_work,
)
from copyseal.workspace import Workspace

Photos = dict[str, np.ndarray]


def _register(ws: Workspace, *paths: Path) -> dict[str, str]:
    out = {}
    for r in register_paths(ws, list(paths)):
        assert isinstance(r, WorkRecord), r
        out[str(r.title)] = r.work_id
    return out


def _jpeg(pixels: np.ndarray, quality: int = 75) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _edited(photo: np.ndarray) -> bytes:
    """An off-centre 70 % crop, shrunk by a third, mirrored, re-encoded as JPEG."""
    h, w = photo.shape[:2]
    crop = photo[h // 10 : h // 10 + int(0.7 * h), w // 20 : w // 20 + int(0.7 * w)][:, ::-1]
    small = Image.fromarray(np.ascontiguousarray(crop))
    small = small.resize((small.width * 2 // 3, small.height * 2 // 3))
    return _jpeg(np.asarray(small), quality=70)


def _build(factory: MatcherFactory, ws: Workspace) -> WorkMatcher:
    return factory(ws.engine, ws.settings)


def check_an_edited_copy_is_found(
    factory: MatcherFactory, ws: Workspace, photo_files: dict[str, Path], photos: Photos
) -> None:
    ids = _register(ws, photo_files["astronaut"], photo_files["chelsea"])
    found = list(_build(factory, ws).match(_edited(photos["astronaut"]), name="edited.jpg"))
    assert [m.work_id for m in found] == [ids["astronaut"]]
    (m,) = found
    assert 0.0 < m.score <= 1.0
    report = m.to_json()
    assert report["work_id"] == ids["astronaut"] and report["score"] == pytest.approx(m.score)
    assert json.loads(json.dumps(report)) == report  # JSON-safe as it is


def check_an_exact_copy_is_found(
    factory: MatcherFactory, ws: Workspace, photo_files: dict[str, Path], photos: Photos
) -> None:
    ids = _register(ws, photo_files["coffee"], photo_files["chelsea"])
    matcher = _build(factory, ws)
    for name in ("coffee", "chelsea"):
        found = matcher.match(photo_files[name].read_bytes())
        assert found and found[0].work_id == ids[name]
        assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)


def check_an_unrelated_photo_gives_no_match(
    factory: MatcherFactory, ws: Workspace, photo_files: dict[str, Path], photos: Photos
) -> None:
    _register(ws, photo_files["astronaut"], photo_files["coffee"])
    matcher = _build(factory, ws)
    for name in ("rocket", "china", "flower"):
        assert list(matcher.match(_jpeg(photos[name]))) == [], name


def check_unusable_bytes_raise_match_error(
    factory: MatcherFactory, ws: Workspace, photo_files: dict[str, Path], photos: Photos
) -> None:
    _register(ws, photo_files["chelsea"])
    matcher = _build(factory, ws)
    whole = _jpeg(photos["chelsea"])
    for bad in (b"", b"<html>not an image</html>", whole[:300], b"%PDF-1.7\n" + whole):
        with pytest.raises(MatchError):
            matcher.match(bad, name="bad.jpg")
        with pytest.raises(MatchError):
            matcher.decode(bad)


def check_nothing_registered_finds_nothing(
    factory: MatcherFactory, ws: Workspace, photo_files: dict[str, Path], photos: Photos
) -> None:
    matcher = _build(factory, ws)
    assert list(matcher.match(photo_files["astronaut"].read_bytes())) == []
    with pytest.raises(MatchError):  # still decoded: bad bytes fail as with works
        matcher.match(b"GIF89a truncated")


def check_removed_works_are_not_found(
    factory: MatcherFactory, ws: Workspace, photo_files: dict[str, Path], photos: Photos
) -> None:
    ids = _register(ws, photo_files["astronaut"], photo_files["chelsea"])
    assert _build(factory, ws).match(_edited(photos["chelsea"]))
    remove_work(ws, ids["chelsea"])
    matcher = _build(factory, ws)
    assert list(matcher.match(_edited(photos["chelsea"]))) == []
    assert list(matcher.match(photo_files["chelsea"].read_bytes())) == []
    assert [m.work_id for m in matcher.match(_edited(photos["astronaut"]))] == [ids["astronaut"]]


def check_decoded_matches_draw_an_overlay(
    factory: MatcherFactory, ws: Workspace, photo_files: dict[str, Path], photos: Photos
) -> None:
    """What sealing and ``copyseal match --overlay`` do: decode the query and the work's
    original under the matcher's limits, re-match, draw the region."""
    ids = _register(ws, photo_files["astronaut"])
    matcher = _build(factory, ws)
    query = matcher.decode(_edited(photos["astronaut"]), name="edited.jpg")
    assert isinstance(query, DecodedImage) and query.format == "JPEG"
    found = list(matcher.match_image(query))
    assert [m.work_id for m in found] == [ids["astronaut"]]
    m = found[0]
    assert isinstance(m, Match) and len(m.region) >= 3
    xs, ys = [p[0] for p in m.region], [p[1] for p in m.region]
    assert 0 <= min(xs) < max(xs) <= query.width + 1 and 0 <= min(ys) < max(ys) <= query.height + 1
    work = matcher.decode(photo_files["astronaut"].read_bytes())
    assert (work.width, work.height) == photos["astronaut"].shape[1::-1]
    assert render_overlay(work, query, m).startswith(b"\x89PNG\r\n\x1a\n")


def check_an_exact_copy_of_a_work_without_fingerprint_is_found_decoded_too(
    factory: MatcherFactory, ws: Workspace, photo_files: dict[str, Path], photos: Photos
) -> None:
    """What a re-visit and sealing's overlay do with a decoded image: an exact copy of a
    work whose fingerprint is gone (another scheme, a failed fingerprinting) is still that
    work's match, over the whole image, and an edited copy of it is not."""
    ids = _register(ws, photo_files["coffee"], photo_files["chelsea"])
    with ws.engine.begin() as conn:
        conn.execute(delete(WorkFingerprint).where(WorkFingerprint.work_id == ids["coffee"]))
    matcher = factory(ws.engine, ws.settings, use_cache=False)
    data = photo_files["coffee"].read_bytes()
    assert [m.work_id for m in matcher.match(data)] == [ids["coffee"]]
    query = matcher.decode(data, name="coffee.jpg")
    (m,) = matcher.match_image(query)
    assert isinstance(m, Match) and (m.work_id, m.method, m.score) == (
        ids["coffee"],
        "exact-sha256",
        1.0,
    )
    w, h = query.width, query.height
    assert m.region == ((0.0, 0.0), (w, 0.0), (w, h), (0.0, h))
    assert m.transform.matrix == ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    # Reported in the shape match() reports it in (inliers null, no tiles compared).
    assert m.to_json() == next(iter(matcher.match(data))).to_json()
    assert render_overlay(query, query, m).startswith(b"\x89PNG\r\n\x1a\n")
    edited = matcher.decode(_edited(photos["coffee"]))
    assert list(matcher.match_image(edited)) == []
    # A work that keeps its fingerprint is reported once, by the perceptual matcher.
    chelsea = matcher.decode(photo_files["chelsea"].read_bytes())
    assert [(m.work_id, m.method) for m in matcher.match_image(chelsea)] == [
        (ids["chelsea"], "geometric")
    ]


def check_results_do_not_depend_on_the_cache(
    factory: MatcherFactory, ws: Workspace, photo_files: dict[str, Path], photos: Photos
) -> None:
    _register(ws, photo_files["astronaut"], photo_files["chelsea"], photo_files["coffee"])
    queries = [_edited(photos[n]) for n in ("astronaut", "chelsea", "rocket")]
    fresh = factory(ws.engine, ws.settings, use_cache=False)
    warm = [factory(ws.engine, ws.settings) for _ in range(2)][-1]
    for q in queries:
        assert [m.to_json() for m in fresh.match(q)] == [m.to_json() for m in warm.match(q)]


Check = Callable[..., None]

#: Every check of the kit, by name.
CHECKS: dict[str, Check] = {
    name.removeprefix("check_"): fn
    for name, fn in sorted(globals().items())
    if name.startswith("check_") and callable(fn)
}
