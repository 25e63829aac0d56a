"""Pictures pasted into a query: the rectangles found, and the low-texture work pasted
into a collage that only its own pHash finds."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from copyseal.match import (
    FaissIndex,
    InMemoryStore,
    MatchConfig,
    Matcher,
    WorkFingerprint,
)
from copyseal.match._pasted import pasted_rects


def _collage(
    photos: dict[str, np.ndarray], work: np.ndarray, at: tuple[int, int, int]
) -> np.ndarray:
    """Four unregistered photos in a 2 x 2 grid (1000 x 700) and ``work`` pasted ``w`` px
    wide at ``(x, y)``."""
    import skimage.data

    grey = {
        n: np.repeat(getattr(skimage.data, n)()[:, :, None], 3, axis=2) for n in ("camera", "coins")
    }
    tiles = {"rocket": photos["rocket"], "china": photos["china"], **grey}
    canvas = np.zeros((700, 1000, 3), np.uint8)
    for (x, y), name in zip(
        ((0, 0), (500, 0), (0, 350), (500, 350)),
        ("rocket", "china", "camera", "coins"),
        strict=True,
    ):
        canvas[y : y + 350, x : x + 500] = cv2.resize(tiles[name], (500, 350))
    x, y, w = at
    h = round(work.shape[0] * w / work.shape[1])
    canvas[y : y + h, x : x + w] = cv2.resize(work, (w, h), interpolation=cv2.INTER_AREA)
    return canvas


def _grey(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), dtype=np.uint8)


def test_the_pasted_picture_is_found(match_photos: dict[str, np.ndarray]) -> None:
    query = _collage(match_photos, match_photos["colorwheel"], (430, 240, 300))
    rects = pasted_rects(_grey(query), 4)
    assert any(
        abs(x0 - 430) <= 3 and abs(y0 - 240) <= 3 and abs(x1 - 730) <= 3 and abs(y1 - 540) <= 3
        for x0, y0, x1, y1 in rects
    ), rects
    assert (0, 0, 1000, 700) not in rects
    assert pasted_rects(_grey(query), 0) == []


def test_a_photo_alone_has_no_pasted_picture(match_photos: dict[str, np.ndarray]) -> None:
    for name in ("astronaut", "chelsea", "china"):
        grey = _grey(match_photos[name])
        h, w = grey.shape
        # Whatever it finds (a window frame, say) is inside, never the whole photo.
        assert all((r[2] - r[0]) * (r[3] - r[1]) < 0.9 * w * h for r in pasted_rects(grey, 4))


def _jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def test_a_low_texture_work_pasted_into_a_collage_is_found_by_its_own_hash(
    match_photos: dict[str, np.ndarray], fingerprints: dict[str, WorkFingerprint]
) -> None:
    """The colorwheel has almost no keypoints: pasted at 30 % into a collage, only the
    pasted rectangle's pHash finds it (off, the same query finds nothing)."""
    query = _jpeg(_collage(match_photos, match_photos["colorwheel"], (430, 240, 300)))
    store, index = InMemoryStore(), FaissIndex()
    for name, fp in fingerprints.items():
        store.put(name, fp)
        index.add(name, fp, n_descriptors=1000)
    found = Matcher(store=store, index=index, config=MatchConfig()).match(query)
    assert [m.work_id for m in found] == ["colorwheel"]
    assert found[0].method == "global-hash"
    xs, ys = zip(*found[0].region, strict=True)
    assert abs(min(xs) - 430) <= 8 and abs(max(xs) - 730) <= 8 and abs(min(ys) - 240) <= 8
    off = Matcher(store=store, index=index, config=MatchConfig(pasted_windows=0))
    assert off.match(query) == []


def test_pasted_windows_are_searched_upright_at_the_small_radius(
    match_photos: dict[str, np.ndarray],
) -> None:
    from copyseal.match._features import prepare_query

    cfg = MatchConfig()
    view = prepare_query(_collage(match_photos, match_photos["colorwheel"], (430, 240, 300)), cfg)
    assert view.pasted >= 1
    tail = view.hash_windows[-view.pasted :]
    assert all(d == 0 for _, d, _ in tail)


def test_too_small_or_too_thin_for_a_picture() -> None:
    assert pasted_rects(np.zeros((50, 300), np.uint8), 4) == []
    banner = np.zeros((70, 2000), np.uint8)
    banner[:, 900:1000] = 255  # a bright block, but the strip is too thin once reduced
    assert pasted_rects(banner, 4) == []
