"""False matches at catalogue scale: ≥ 10,000 unrelated images against 100 and 10,000 works.

Usage::

    .venv/bin/python benchmarks/match_negatives.py [--count 10000] [--works 100,10000]
        [--jobs N] [--quick] [--set key=value ...] [--small-works PX]

Registered works: ``_evalset.catalogue`` — the 19 real photos of the accuracy benchmark,
6 coloured flat-shape pictures (``skimage.draw.random_shapes``; seed 41 is the picture
``binary_blobs`` was once falsely matched to) and 75 colour textures make 100; for
10,000 the rest are synthetic fingerprints (random hashes and descriptors, as
``match_speed.py`` pads). With ``--small-works 128`` the 19 photos are registered reduced to
128 px on the longest side: small works, whose keypoints come from them enlarged
(``match.engine.work_min_side``) and, when nearly featureless, a more sensitive detection
(``faint_*``).

Unrelated negatives (none is a registered work, an edit of one or a photograph of the same
scene), seeded by their kind and number (``--start``: another set of numbers, e.g. to check
thresholds on images they were not calibrated on), sent as JPEG bytes (quality 60-95) so
decoding is included, in seven kinds:

* **photo** — crops (35-100 %), rescales and small rotations of real photos no work shows:
  scikit-image's unregistered ones (coins, brick, gravel, cell, text, logo, horse,
  microaneurysms), matplotlib's Minduka, scikit-image's LFW faces (upscaled);
* **texture** — smoothed noise at random scales, Gabor-like stripes, noise photos;
* **pattern** — ``skimage.data.binary_blobs`` (random size/volume), checkerboards, dots,
  stripes;
* **screenshot** — a generated app/web page: bars, buttons, text lines, boxes;
* **text** — lines of random words in random sizes and colours;
* **logo** — a circle, square or polygon and letters on a flat background;
* **flat** — coloured shapes (``random_shapes``, seeds never registered), gradients, bar
  charts.

Besides those, one seventh as many **same scene** images, made like the photos from the
other views of two registered photos' stereo pairs (scikit-image's right motorcycle view,
scikit-learn's ``flower`` right half): a different photograph of the same scene, taken a
few centimetres away at the same moment. They are not unrelated (the crop of one view is
much of the other), so their matches are counted in a row of their own, not in the
target's.

Prints false matches per kind and catalogue, the rate per 10^5 unrelated images (target 0;
never more than 1), the same-scene row, and CPU ms per negative image (mean, p95) — the
cost of the negative path.
``--jobs`` processes share the queries (each builds the catalogue once).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, os.path.dirname(__file__))

import _evalset as E

KINDS = ("photo", "texture", "pattern", "screenshot", "text", "logo", "flat")
#: Crops of the other view of a registered photo's stereo pair: the same scene, taken from
#: a few centimetres away at the same moment. Not unrelated, so reported in a row of their
#: own, besides the ``--count`` unrelated ones.
SAME_SCENE = "same scene"
_WORDS = ("copy", "right", "image", "photo", "shop", "sale", "news", "blog", "post")


shapes = E.shapes


def _negative_photos() -> list[np.ndarray]:
    import skimage.data as sk

    photos = E.prepare(E.load_photos())
    out = [photos[n] for n in E.UNREGISTERED]
    for name in ("horse", "microaneurysms"):
        out.append(E._rgb(getattr(sk, name)()))
    # Not scikit-image's data/color.png: it is colorwheel() itself, a registered work (its
    # crops were reported as "false" matches of colorwheel by the first 10,000 run).
    faces = np.load(os.path.join(os.path.dirname(sk.__file__), "lfw_subset.npy"))
    for face in faces[:20]:
        out.append(
            E._rgb(np.asarray(Image.fromarray((face * 255).astype(np.uint8)).resize((200, 200))))
        )
    return out


def _font(size: int) -> Any:
    return ImageFont.load_default(size=size)


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(0, 256, 3))  # type: ignore[return-value]


def _same_scene() -> list[np.ndarray]:
    photos = E.prepare(E.load_photos())
    return [photos[n] for n in E.SAME_SCENE]


def negative(
    kind: str, i: int, sources: list[np.ndarray], same_scene: list[np.ndarray] | None = None
) -> np.ndarray:
    """The ``i``-th negative of ``kind`` (deterministic)."""
    rng = E.rng_for("negative", kind, str(i))
    w, h = int(rng.integers(240, 900)), int(rng.integers(200, 700))
    if kind in ("photo", SAME_SCENE):
        pool = sources if kind == "photo" else (same_scene or _same_scene())
        src = pool[int(rng.integers(len(pool)))]
        sh, sw = src.shape[:2]
        f = rng.uniform(0.35, 1.0)
        ch, cw = max(16, int(sh * f)), max(16, int(sw * f))
        y, x = int(rng.integers(0, sh - ch + 1)), int(rng.integers(0, sw - cw + 1))
        crop = Image.fromarray(np.ascontiguousarray(src[y : y + ch, x : x + cw]))
        crop = crop.rotate(float(rng.uniform(-10, 10)), expand=False)
        scale = rng.uniform(0.5, 1.5)
        return np.asarray(crop.resize((max(32, int(cw * scale)), max(32, int(ch * scale)))))
    if kind == "texture":
        import cv2

        mode = int(rng.integers(3))
        if mode == 0:
            small = rng.integers(
                0,
                256,
                (max(2, h // int(rng.integers(2, 40))), max(2, w // int(rng.integers(2, 40))), 3),
                dtype=np.uint8,
            )
            return np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC))
        if mode == 1:
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            a, fr = rng.uniform(0, np.pi), rng.uniform(0.02, 0.3)
            v = np.sin(fr * (xx * np.cos(a) + yy * np.sin(a))) + 0.3 * rng.normal(size=(h, w))
            g = np.clip((v + 1.5) * 85, 0, 255).astype(np.uint8)
            return np.ascontiguousarray(np.stack([g, np.roll(g, 3, 1), g[::-1]], axis=2))
        n = rng.normal(128, 60, (h, w, 3)).astype(np.float32)
        return np.clip(cv2.GaussianBlur(n, (0, 0), float(rng.uniform(0.5, 6))), 0, 255).astype(
            np.uint8
        )
    if kind == "pattern":
        from skimage.data import binary_blobs

        mode = int(rng.integers(4))
        if mode == 0:
            b = binary_blobs(
                length=int(rng.integers(256, 800)),
                blob_size_fraction=float(rng.uniform(0.03, 0.25)),
                volume_fraction=float(rng.uniform(0.2, 0.7)),
                rng=int(rng.integers(1 << 30)),
            )
            return E._rgb(b)
        yy, xx = np.mgrid[0:h, 0:w]
        s = int(rng.integers(6, 80))
        if mode == 1:
            g = (((yy // s) + (xx // s)) % 2).astype(bool)
        elif mode == 2:
            g = ((yy % s - s / 2) ** 2 + (xx % s - s / 2) ** 2) < (s / 3) ** 2
        else:
            g = (xx + yy * int(rng.integers(0, 3))) // s % 2 == 0
        fg, bg = np.array(_colour(rng), np.uint8), np.array(_colour(rng), np.uint8)
        return np.where(g[:, :, None], fg, bg).astype(np.uint8)
    im = Image.new("RGB", (w, h), _colour(rng) if kind in ("logo", "flat") else (250, 250, 250))
    d = ImageDraw.Draw(im)
    if kind == "screenshot":
        d.rectangle((0, 0, w, 40), fill=_colour(rng))
        d.text((10, 10), " ".join(rng.choice(_WORDS, 4)), font=_font(16), fill=(255, 255, 255))
        y = 60
        while y < h - 20:
            if rng.random() < 0.3:
                d.rounded_rectangle(
                    (20, y, 20 + int(rng.integers(60, 200)), y + 30), 6, fill=_colour(rng)
                )
                y += 40
            else:
                d.text((20, y), " ".join(rng.choice(_WORDS, 8)), font=_font(14), fill=(40, 40, 40))
                y += 22
        d.rectangle((w * 2 // 3, 60, w - 20, h // 2), outline=(180, 180, 180), width=2)
        return np.asarray(im)
    if kind == "text":
        y = 5
        while y < h - 10:
            size = int(rng.integers(10, 48))
            d.text((5, y), " ".join(rng.choice(_WORDS, 6)), font=_font(size), fill=_colour(rng))
            y += size + 6
        return np.asarray(im)
    if kind == "logo":
        cx, cy, r = w // 2, h // 2, min(w, h) // 3
        shape = int(rng.integers(3))
        if shape == 0:
            d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_colour(rng))
        elif shape == 1:
            d.rectangle((cx - r, cy - r, cx + r, cy + r), fill=_colour(rng))
        else:
            d.regular_polygon((cx, cy, r), int(rng.integers(3, 8)), fill=_colour(rng))
        word = "".join(rng.choice(list("ABCDEFGHKLMNOPRSTXYZ"), int(rng.integers(2, 6))))
        d.text((cx - r // 2, cy - r // 4), word, font=_font(max(12, r // 2)), fill=_colour(rng))
        return np.asarray(im)
    # flat
    mode = int(rng.integers(3))
    if mode == 0:
        return shapes(10_000 + i)  # other seeds than the registered ones
    if mode == 1:
        t = np.linspace(0, 1, w)[None, :, None] * np.ones((h, 1, 1))
        a, b = np.array(_colour(rng)), np.array(_colour(rng))
        return (a * (1 - t) + b * t).astype(np.uint8)
    for k in range(int(rng.integers(3, 12))):
        bh = int(rng.integers(10, h - 20))
        x0 = 20 + k * (w - 40) // 12
        d.rectangle((x0, h - 10 - bh, x0 + (w - 40) // 14, h - 10), fill=_colour(rng))
    return np.asarray(im)


def _jpeg(rgb: np.ndarray, q: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb[:, :, :3])).save(buf, format="JPEG", quality=q)
    return buf.getvalue()


_STATE: dict[str, Any] = {}


def _init(n_works: int, overrides: dict[str, Any], small: int = 0) -> None:
    import cv2
    import faiss

    from copyseal.match import FaissIndex, InMemoryStore, MatchConfig, Matcher, WorkFingerprint
    from match_speed import synthetic_fingerprint

    cv2.setNumThreads(1)
    faiss.omp_set_num_threads(1)
    cfg = MatchConfig.from_mapping(overrides)
    photos = E.prepare(E.load_photos())
    store = InMemoryStore()
    # The works' colours, as the workspace reads them from the kept originals (the
    # synthetic padding works have none).
    matcher = Matcher(store=store, index=FaissIndex(), config=cfg, colours=store)
    works = list(E.catalogue(photos).items())
    added: list[tuple[str, WorkFingerprint]] = []
    for name, rgb in works[:n_works]:
        if small and name in E.REGISTERED:
            rgb = E.thumbnail(rgb, small)
        added.append((name, E.put_work(store, name, rgb, cfg)))
    rng = np.random.default_rng(2)
    thumb = store.get(E.REGISTERED[0]).thumbnail_png
    for i in range(max(0, n_works - len(works))):
        fp = synthetic_fingerprint(rng, cfg.work_features, thumb)
        store.put(f"s{i}", fp)
        added.append((f"s{i}", fp))
    # One build at the end, as the workspace's index cache builds a catalogue.
    matcher.index.add_many(added, n_descriptors=cfg.retrieval_features)
    matcher.index.prepare_search()
    _STATE.update(matcher=matcher, sources=_negative_photos(), same_scene=_same_scene())


def _run(job: tuple[str, int]) -> tuple[str, int, list[tuple[str, float, int]], float]:
    kind, i = job
    rgb = negative(kind, i, _STATE["sources"], _STATE["same_scene"])
    data = _jpeg(rgb, 60 + (i * 7) % 36)
    t = time.process_time()
    found = _STATE["matcher"].match(data)
    cpu = time.process_time() - t
    return kind, i, [(m.work_id, m.score, m.inliers) for m in found], cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10_000, help="unrelated negatives (all kinds)")
    ap.add_argument(
        "--start", type=int, default=0, help="first negative number of each kind (another set)"
    )
    ap.add_argument("--works", default="100,10000", help="catalogue sizes, comma-separated")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--quick", action="store_true", help="70 negatives, 100 works")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument(
        "--small-works",
        type=int,
        default=0,
        metavar="PX",
        help="register the 19 photos reduced to PX (e.g. 128): small works, enlarged",
    )
    args = ap.parse_args()
    import yaml

    overrides = {k: yaml.safe_load(v) for k, _, v in (s.partition("=") for s in args.set)}
    count, sizes = args.count, [int(x) for x in args.works.split(",")]
    if args.quick:
        count, sizes = 70, [100]
    jobs = [(KINDS[n % len(KINDS)], args.start + n // len(KINDS)) for n in range(count)]
    jobs += [(SAME_SCENE, args.start + n) for n in range(count // len(KINDS))]
    print(
        f"{count:,} unrelated negatives ({count // len(KINDS):,} of each kind, numbers "
        f"{args.start:,} on) and {count // len(KINDS):,} of the same scene as a registered "
        f"photo, JPEG bytes; {args.jobs} processes, one thread each\n"
    )
    if args.small_works:
        print(f"the {len(E.REGISTERED)} photos registered at {args.small_works} px\n")
    header = (
        f"{'works':>7} {'kind':<11}{'images':>8}{'false':>7}{'per 1e5':>9}"
        f"{'CPU ms mean':>13}{'p95':>7}"
    )
    print(header)
    print("-" * len(header))
    for n_works in sizes:
        t0 = time.perf_counter()
        init = (n_works, overrides, args.small_works)
        with ProcessPoolExecutor(args.jobs, initializer=_init, initargs=init) as ex:
            results = list(ex.map(_run, jobs, chunksize=8))
        wall = time.perf_counter() - t0
        by_kind: dict[str, list[Any]] = {k: [] for k in (*KINDS, SAME_SCENE)}
        for r in results:
            by_kind[r[0]].append(r)

        def row(label: str, rs: list[Any], n_works: int = n_works) -> int:
            false = sum(len(r[2]) for r in rs)
            cpu = np.array([r[3] for r in rs]) * 1000
            print(
                f"{n_works:>7} {label:<11}{len(rs):>8}{false:>7}{false / len(rs) * 1e5:>9.0f}"
                f"{cpu.mean():>13.1f}{np.percentile(cpu, 95):>7.0f}"
            )
            return false

        for kind in KINDS:
            row(kind, by_kind[kind])
        unrelated = [r for r in results if r[0] != SAME_SCENE]
        row("unrelated", unrelated)
        print(f"{'':>7} ({wall:.0f} s wall)")
        row(SAME_SCENE, by_kind[SAME_SCENE])
        shown = 0
        for kind, i, found, _ in results:
            for work, score, inliers in found:
                if kind == SAME_SCENE:
                    shown += 1
                    if shown > 10:
                        continue
                what = "same-scene match" if kind == SAME_SCENE else "false match"
                print(f"      {what}: {kind} #{i} -> {work} (score {score}, inliers {inliers})")
        if shown > 10:
            print(f"      ... and {shown - 10} more same-scene matches")
        print("-" * len(header))


if __name__ == "__main__":
    main()
