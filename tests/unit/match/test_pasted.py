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


def test_the_sides_are_placed_at_full_resolution(match_photos: dict[str, np.ndarray]) -> None:
    """Found on the query reduced to 512 px, each side is then set where the border is
    at full resolution: a rectangle a few pixels off moves the pasted picture's pHash past
    the radius it is searched at."""
    wheel = match_photos["colorwheel"]
    for x, y, w in ((431, 241, 301), (433, 237, 301), (427, 239, 303), (429, 241, 299)):
        h = round(wheel.shape[0] * w / wheel.shape[1])
        query = _collage(match_photos, wheel, (x, y, w))
        assert (x, y, x + w, y + h) in pasted_rects(_grey(query), 4), (x, y, w)


def test_a_picture_pasted_a_few_pixels_from_the_image_border(
    match_photos: dict[str, np.ndarray],
) -> None:
    """At 512 px a side 3 px from the image's border falls on it; it is moved back to the
    picture's. A side of a background tile that another picture's side only meets (the
    left one of the tile at x 0 here) stays on the border."""
    wheel = match_photos["colorwheel"]
    h = round(wheel.shape[0] * 300 / wheel.shape[1])
    query = _collage(match_photos, wheel, (600, 697 - h, 300))
    assert (600, 697 - h, 900, 697) in pasted_rects(_grey(query), 4)
    query = _collage(match_photos, wheel, (697, 240, 300))
    assert (697, 240, 997, 240 + h) in pasted_rects(_grey(query), 4)
    query = _collage(match_photos, wheel, (3, 240, 300))
    assert (0, 0, 500, 700) in pasted_rects(_grey(query), 4)


def test_a_grey_picture_beside_colours_of_its_own_brightness(
    match_photos: dict[str, np.ndarray],
) -> None:
    """Part of a colour photo replaced by its own greyscale: no step in brightness along
    the border, only in colour. Found from the colour picture, not from the grey one."""
    from copyseal.match._features import prepare_query

    for name in ("chelsea", "coffee"):
        query = cv2.resize(match_photos[name], (1000, 700), interpolation=cv2.INTER_AREA)
        inside = _grey(query[157:457, 301:651])
        query[157:457, 301:651] = inside[:, :, None]
        grey = _grey(query)
        assert (301, 157, 651, 457) not in pasted_rects(grey, 8), name
        assert (301, 157, 651, 457) in pasted_rects(grey, 8, rgb=query), name
        view = prepare_query(query, MatchConfig())
        assert ((301, 157, 651, 457), 0) in [(r, d) for r, d, _ in view.hash_windows], name


def test_a_grey_low_texture_work_pasted_among_colour_photos_is_found() -> None:
    """scikit-image's microaneurysms (102 px, mid-grey, blurred: almost no keypoints)
    enlarged into a collage of colour photos: its border is faint in brightness and
    found from the colours, and its sides are placed exactly enough for its pHash."""
    import skimage.data

    from copyseal.match import DecodedImage, fingerprint

    work = np.repeat(skimage.data.microaneurysms()[:, :, None], 3, axis=2)
    tiles = (
        skimage.data.coffee(),
        skimage.data.chelsea(),
        skimage.data.astronaut(),
        skimage.data.rocket(),
    )
    store, index = InMemoryStore(), FaissIndex()
    fp = fingerprint(DecodedImage.from_array(work), config=MatchConfig())
    store.put("microaneurysms", fp)
    index.add("microaneurysms", fp, n_descriptors=1000)
    on = Matcher(store=store, index=index, config=MatchConfig())
    off = Matcher(store=store, index=index, config=MatchConfig(pasted_windows=0))
    for x, y, w in ((430, 240, 300), (532, 25, 400), (150, 100, 400)):
        canvas = np.zeros((700, 1000, 3), np.uint8)
        for (tx, ty), tile in zip(((0, 0), (500, 0), (0, 350), (500, 350)), tiles, strict=True):
            canvas[ty : ty + 350, tx : tx + 500] = cv2.resize(
                tile, (500, 350), interpolation=cv2.INTER_AREA
            )
        canvas[y : y + w, x : x + w] = cv2.resize(work, (w, w), interpolation=cv2.INTER_CUBIC)
        query = _jpeg(canvas)
        found = on.match(query)
        assert [m.work_id for m in found] == ["microaneurysms"], (x, y, w)
        assert found[0].method == "global-hash"
        assert off.match(query) == []
