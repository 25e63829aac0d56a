"""Decoding at the size matching needs: full JPEG decode against a reduced one.

Usage::

    .venv/bin/python benchmarks/decode.py [--reps N] [--sizes 1,3,12] [--wall]
    .venv/bin/python benchmarks/decode.py --accuracy --hard --factors 2.2,4.4 \\
        --compare 1024,2048 --sizes ''

**Speed.** A real photo (scikit-learn's ``china.jpg``, 640 x 427) enlarged to about 1, 3
and 12 megapixels (3:2, bicubic) and saved as JPEG (quality 90). For each size:

* **decode ms**: ``copyseal.match.decode`` in full, and with
  ``reduce_to=MatchConfig.decode_side`` (1536), which asks libjpeg for a 1/2, 1/4 or 1/8
  scale decode (Pillow's ``draft``) still at least that long on its longest side; an
  image under twice that is decoded in full either way.
* **match ms**: ``Matcher.match`` with decoding included, both ways (a full decode passed
  in, or the bytes, which the matcher decodes reduced), against the 19 registered photos
  of the accuracy benchmark: once with ``china`` registered (the query is an enlarged
  copy: it must be found, and the regions of both ways are compared) and once without it
  (the query matches nothing: the negative path a crawl mostly takes).

Times are CPU ms of this process (``time.process_time``: what an image costs a core, not
the wait for one on a shared machine; ``--wall`` for elapsed time), median of ``--reps``
runs after one warm-up; one thread for OpenCV, FAISS and Pillow.

**Accuracy** (``--accuracy``): the accuracy benchmark's queries
(``match_accuracy.build_queries``; ``--hard``: only crop 50-40 %, embed 30-50 % and
combo, where misses remain; ``--sample N``: a seeded sample), each enlarged so its
longest side is ``--factors`` x ``query_side`` (alternating, so that different reduced
scales occur) and saved as JPEG q90, matched after a full decode and after a decode with
each ``--compare`` value of ``reduce_to``: found and false matches per family, and the
queries found one way but not the other.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

import _evalset as E

_clock = time.process_time
_HARD = ("crop 50-40%", "embed 30-50%", "combo")


def _median_ms(fn: Callable[[], object], reps: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(reps):
        t = _clock()
        fn()
        times.append(_clock() - t)
    return 1000 * statistics.median(times)


def _box(region: tuple[tuple[float, float], ...]) -> np.ndarray:
    xs, ys = zip(*region, strict=True)
    return np.array([min(xs), min(ys), max(xs), max(ys)])


def _jpeg(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _accuracy(
    photos: dict[str, np.ndarray],
    matcher: object,
    *,
    hard: bool,
    sample: int,
    factors: list[float],
    compare: list[int],
) -> None:
    import cv2

    from copyseal.match import Matcher, decode
    from match_accuracy import build_queries

    assert isinstance(matcher, Matcher)
    side = matcher.config.query_side
    queries = build_queries(photos, E.REGISTERED)
    if hard:
        queries = [q for q in queries if q.family in _HARD]
    if sample and sample < len(queries):
        picks = np.random.default_rng(5).choice(len(queries), size=sample, replace=False)
        queries = [queries[int(i)] for i in sorted(picks)]
    ways = ["full", *(f"r{r}" for r in compare)]
    counts: Counter[tuple[str, str]] = Counter()
    scales: Counter[tuple[str, float]] = Counter()
    flips = []
    for i, q in enumerate(queries):
        h, w = q.image.shape[:2]
        f = factors[i % len(factors)] * side / max(h, w)
        data = _jpeg(cv2.resize(q.image, (round(w * f), round(h * f)), cv2.INTER_CUBIC))
        found = {}
        for way, r in zip(ways, [None, *compare], strict=True):
            image = decode(data, max_pixels=10**9, reduce_to=r)
            scales[(way, image.scale)] += 1
            got = {m.work_id for m in matcher.match(image)}
            found[way] = q.expected in got
            counts[(q.family, way)] += found[way]
            counts[(q.family, f"{way} false")] += len(got - {q.expected})
        counts[(q.family, "n")] += 1
        if len(set(found.values())) > 1:
            flips.append(f"  {q.name} x{f:.1f}: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    print(
        f"Accuracy: {len(queries)} queries of match_accuracy.py"
        f"{' (hard families)' if hard else ''}, enlarged to {factors} x {side} px, JPEG q90"
    )
    print("decoded scales: " + ", ".join(f"{w} {s:g}: {n}" for (w, s), n in sorted(scales.items())))
    print(f"{'family':<24} {'n':>4} " + " ".join(f"{w + ' found':>12}" for w in ways) + "  false")
    families = sorted({fam for fam, _ in counts})
    for fam in [*families, "all"]:

        def c(key: str, fam: str = fam) -> int:
            return sum(v for (f, k), v in counts.items() if k == key and fam in (f, "all"))

        false = "/".join(str(c(f"{w} false")) for w in ways)
        print(f"{fam:<24} {c('n'):>4} " + " ".join(f"{c(w):>12}" for w in ways) + f"  {false}")
    print(f"found one way but not another ({len(flips)}):", *flips, sep="\n")
    print()


def _speed(
    photos: dict[str, np.ndarray], matchers: dict[str, object], sizes: list[float], reps: int
) -> None:
    import cv2

    from copyseal.match import Matcher, decode

    photo = photos["china"]
    cfg = next(iter(matchers.values())).config  # type: ignore[attr-defined]
    limit, red = cfg.max_pixels, cfg.decode_side
    print(
        f"china.jpg enlarged, JPEG q90; reduce_to = decode_side = {red} "
        f"(query_side {cfg.query_side}); {'elapsed' if _clock is time.perf_counter else 'CPU'}"
        f" ms, median of {reps}, one thread"
    )
    print(
        f"{'MP':>5} {'size':>11} {'decoded':>11} {'scale':>6} {'dec full':>9} "
        f"{'dec red':>8} {'x':>5} {'query':>9} {'match full':>11} {'match red':>10} "
        f"{'x':>5}  notes"
    )
    for mp in sizes:
        h = round((mp * 1e6 / 1.5) ** 0.5)
        w = round(h * 1.5)
        data = _jpeg(cv2.resize(photo, (w, h), interpolation=cv2.INTER_CUBIC))
        reduced = decode(data, max_pixels=limit, reduce_to=red)
        t_full = _median_ms(lambda: decode(data, max_pixels=limit), reps)  # noqa: B023
        t_red = _median_ms(lambda: decode(data, max_pixels=limit, reduce_to=red), reps)  # noqa: B023
        dh, dw = reduced.rgb.shape[:2]
        for label, matcher in matchers.items():
            assert isinstance(matcher, Matcher)
            m_full = _median_ms(
                lambda: matcher.match(decode(data, max_pixels=limit)),  # noqa: B023
                reps,
            )
            m_red = _median_ms(lambda: matcher.match(data), reps)  # noqa: B023
            found_full = matcher.match(decode(data, max_pixels=limit))
            found_red = matcher.match(data)
            if label == "copy":
                ids = ([m.work_id for m in found_full], [m.work_id for m in found_red])
                if ids == (["china"], ["china"]):
                    diff = np.abs(_box(found_full[0].region) - _box(found_red[0].region)).max()
                    note = f"found both ways, regions {diff:.1f} px apart ({100 * diff / w:.2f} %)"
                else:
                    note = f"full {ids[0]}, reduced {ids[1]}"
            else:
                note = f"matches: full {len(found_full)}, reduced {len(found_red)}"
            print(
                f"{mp:>5g} {f'{w}x{h}':>11} {f'{dw}x{dh}':>11} {reduced.scale:>6.3f} "
                f"{t_full:>9.1f} {t_red:>8.1f} {t_full / t_red:>5.1f} {label:>9} "
                f"{m_full:>11.1f} {m_red:>10.1f} {m_full / m_red:>5.1f}  {note}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--sizes", default="1,3,12", help="megapixels, comma-separated ('' none)")
    ap.add_argument("--wall", action="store_true", help="elapsed time, not CPU time")
    ap.add_argument("--accuracy", action="store_true", help="also the accuracy comparison")
    ap.add_argument("--hard", action="store_true", help="accuracy: only the hard families")
    ap.add_argument("--sample", type=int, default=0, help="accuracy: this many queries")
    ap.add_argument("--factors", default="3.05,6.1", help="accuracy: x query_side")
    ap.add_argument("--compare", default="", help="accuracy: reduce_to values (decode_side)")
    args = ap.parse_args()
    global _clock
    if args.wall:
        _clock = time.perf_counter

    import cv2

    from copyseal.match import (
        DecodedImage,
        FaissIndex,
        InMemoryStore,
        MatchConfig,
        Matcher,
        fingerprint,
    )

    cv2.setNumThreads(1)
    cfg = MatchConfig()
    photos = E.prepare(E.load_photos())
    matchers: dict[str, object] = {}
    for label, works in (
        ("copy", E.REGISTERED),
        ("negative", tuple(w for w in E.REGISTERED if w != "china")),
    ):
        store = InMemoryStore()
        matcher = Matcher(store=store, index=FaissIndex(), config=cfg)
        for w in works:
            fp = fingerprint(DecodedImage.from_array(photos[w]), config=cfg)
            store.put(w, fp)
            matcher.add(w, fp)
        matchers[label] = matcher
    if args.accuracy:
        _accuracy(
            photos,
            matchers["copy"],
            hard=args.hard,
            sample=args.sample,
            factors=[float(f) for f in args.factors.split(",")],
            compare=[int(r) for r in (args.compare or str(cfg.decode_side)).split(",")],
        )
    sizes = [float(s) for s in args.sizes.split(",") if s.strip()]
    if sizes:
        _speed(photos, matchers, sizes, args.reps)


if __name__ == "__main__":
    main()
