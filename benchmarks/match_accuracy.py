"""Recall per edit family and false positives: copyseal vs imagehash pHash vs PDQ.

Usage::

    .venv/bin/python benchmarks/match_accuracy.py [--quick] [--misses] [--threads N]
        [--family embed] [--set retrieval_features=400 ...]

Builds the evaluation set of ``benchmarks/_evalset.py`` (photos shipped in wheels, seeded
edits), registers the works, runs every query through the three methods and prints one
table. A positive counts as found when the right work is among the matches; any other
work reported (for a positive or a negative query) is a false positive. Baselines:
imagehash ``phash`` with distance <= 10 (of 64) and PDQ (``pdqhash``) <= 31 (of 256),
each against every registered work.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

import _evalset as E


@dataclass
class Query:
    family: str
    name: str
    expected: str | None  # None: negative
    image: np.ndarray


def build_queries(photos: dict[str, np.ndarray], registered: tuple[str, ...]) -> list[Query]:
    backgrounds = [photos[n] for n in E.BACKGROUNDS]
    out = []
    for work in registered:
        for edit in E.EDITS:
            img = edit.fn(photos[work], E.rng_for(work, edit.name), backgrounds)
            out.append(Query(edit.family, f"{work}/{edit.name}", work, img))
    by_name = {e.name: e for e in E.EDITS}
    for neg in E.UNREGISTERED:
        out.append(Query("negative: unregistered", f"{neg}/original", None, photos[neg]))
        for en in E.NEGATIVE_EDITS:
            img = by_name[en].fn(photos[neg], E.rng_for(neg, en), backgrounds)
            out.append(Query("negative: unregistered", f"{neg}/{en}", None, img))
    for other, work in E.SAME_SCENE.items():
        if work not in registered:
            continue
        out.append(Query("negative: same scene", f"{other}/original", None, photos[other]))
        for en in ("half", "jpeg60", "c90", "mirror"):
            img = by_name[en].fn(photos[other], E.rng_for(other, en), backgrounds)
            out.append(Query("negative: same scene", f"{other}/{en}", None, img))
    return out


def run_copyseal(photos, registered, queries, overrides=None):  # type: ignore[no-untyped-def]
    from copyseal.match import (
        DecodedImage,
        FaissIndex,
        InMemoryStore,
        MatchConfig,
        Matcher,
    )

    cfg = MatchConfig.from_mapping(overrides or {})
    store = InMemoryStore()
    # The works' colours, as the workspace reads them from the kept originals.
    matcher = Matcher(store=store, index=FaissIndex(), config=cfg, colours=store)
    t0 = time.perf_counter()
    for w in registered:
        matcher.add(w, E.put_work(store, w, photos[w], cfg))
    t_reg = (time.perf_counter() - t0) / len(registered)
    results, times = [], []
    for q in queries:
        img = DecodedImage.from_array(q.image)
        t = time.perf_counter()
        ms = matcher.match(img)
        times.append(time.perf_counter() - t)
        results.append({m.work_id for m in ms})
    return results, times, t_reg


def run_phash(photos, registered, queries):  # type: ignore[no-untyped-def]
    import imagehash
    from PIL import Image

    refs = {w: imagehash.phash(Image.fromarray(photos[w])) for w in registered}
    results, times = [], []
    for q in queries:
        t = time.perf_counter()
        h = imagehash.phash(Image.fromarray(q.image))
        results.append({w for w, r in refs.items() if h - r <= 10})
        times.append(time.perf_counter() - t)
    return results, times


def run_pdq(photos, registered, queries):  # type: ignore[no-untyped-def]
    import pdqhash

    def h(a: np.ndarray) -> np.ndarray:
        vec, _quality = pdqhash.compute(np.ascontiguousarray(a))
        return vec.astype(bool)

    refs = {w: h(photos[w]) for w in registered}
    results, times = [], []
    for q in queries:
        t = time.perf_counter()
        v = h(q.image)
        results.append({w for w, r in refs.items() if int((v != r).sum()) <= 31})
        times.append(time.perf_counter() - t)
    return results, times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="6 works instead of 19")
    ap.add_argument("--misses", action="store_true", help="list copyseal misses and FPs")
    ap.add_argument("--threads", type=int, default=1, help="OpenCV/FAISS threads (default 1)")
    ap.add_argument("--family", help="only positive queries of edit families containing this text")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="MatchConfig override (value parsed as YAML), repeatable",
    )
    args = ap.parse_args()
    import yaml

    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = yaml.safe_load(value)

    import cv2
    import faiss

    cv2.setNumThreads(args.threads)
    faiss.omp_set_num_threads(args.threads)

    photos = E.prepare(E.load_photos())
    registered = E.QUICK_REGISTERED if args.quick else E.REGISTERED
    queries = build_queries(photos, registered)
    if args.family:
        queries = [q for q in queries if q.expected is None or args.family in q.family]
    n_pos = sum(q.expected is not None for q in queries)
    print(
        f"{len(registered)} registered works, {n_pos} positive and "
        f"{len(queries) - n_pos} negative queries\n"
    )

    methods = {}
    cs, cs_t, t_reg = run_copyseal(photos, registered, queries, overrides)
    methods["copyseal"] = (cs, cs_t)
    methods["pHash<=10"] = run_phash(photos, registered, queries)
    methods["PDQ<=31"] = run_pdq(photos, registered, queries)

    families: dict[str, list[int]] = defaultdict(list)
    for i, q in enumerate(queries):
        families[q.family].append(i)

    names = list(methods)
    header = f"{'edit family':<24}{'n':>5}" + "".join(f"{n:>12}" for n in names)
    print(header)
    print("-" * len(header))
    total_hit = dict.fromkeys(names, 0)
    fp_count = dict.fromkeys(names, 0)
    for fam, idx in families.items():
        if fam.startswith("negative"):
            continue
        row = f"{fam:<24}{len(idx):>5}"
        for n in names:
            res = methods[n][0]
            hit = sum(queries[i].expected in res[i] for i in idx)
            total_hit[n] += hit
            row += f"{hit / len(idx):>12.3f}"
        print(row)
    print("-" * len(header))
    row = f"{'recall, all families':<24}{n_pos:>5}"
    print(row + "".join(f"{total_hit[n] / n_pos:>12.3f}" for n in names))
    for label, pred in (
        ("FP: wrong work on a pos.", lambda q: q.expected is not None),
        ("FP: unregistered", lambda q: q.family == "negative: unregistered"),
        ("FP: same scene", lambda q: q.family == "negative: same scene"),
    ):
        idx = [i for i, q in enumerate(queries) if pred(q)]
        row = f"{label:<24}{len(idx):>5}"
        for n in names:
            res = methods[n][0]
            fps = sum(len(res[i] - {queries[i].expected}) for i in idx)
            fp_count[n] += fps
            row += f"{fps:>12d}"
        print(row)
    row = f"{'seconds per query (mean)':<24}{'':>5}"
    print(row + "".join(f"{np.mean(methods[n][1]):>12.4f}" for n in names))
    row = f"{'seconds per query (p95)':<24}{'':>5}"
    print(row + "".join(f"{np.percentile(methods[n][1], 95):>12.4f}" for n in names))
    print(f"\ncopyseal: {t_reg:.3f} s to fingerprint a work; threads={args.threads}")
    if overrides:
        print(f"MatchConfig overrides: {overrides}")
    if args.misses:
        print("\ncopyseal misses / false positives:")
        for i, q in enumerate(queries):
            res = cs[i]
            if (q.expected is not None and q.expected not in res) or (res - {q.expected}):
                print(f"  {q.family:<24} {q.name:<40} got {sorted(res)}")


if __name__ == "__main__":
    main()
