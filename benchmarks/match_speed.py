"""Index query time and memory at scale, and end-to-end time per query image.

Usage::

    .venv/bin/python benchmarks/match_speed.py [--quick] [--threads N]

Part 1 — the hash index (``MatchIndex.search_hashes``, FAISS ``IndexBinaryFlat`` with a
radius) holding 10^4, 10^5 and 10^6 synthetic 64-bit hashes (uniformly random, seeded),
against a brute-force numpy baseline (XOR + ``np.bitwise_count`` over a ``uint64``
array) in the same run. A query is one query image's 8 hashes (the 8 orientations of the
whole image; 16 when the query also has trimmed borders), at ``hash_radius``. Memory is
the index's serialised size (FAISS keeps the codes plus an id map).

Part 2 — end to end: 10^4 registered works, of which the 19 real photos of the accuracy
benchmark, ``--distractors`` fingerprints of random crops/rotations of the *unregistered*
photos (real ORB descriptors, so retrieval meets realistic near neighbours) and the rest
synthetic (random hashes and descriptors; they pad the index but are never near a query).
Queries are a seeded sample of the accuracy benchmark's positive edits, given as JPEG bytes
(so the time includes decoding). One thread for OpenCV and FAISS.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

import _evalset as E


def _fmt_ms(s: float) -> str:
    return f"{1000 * s:8.2f}"


def bench_index(sizes: list[int], threads: int) -> None:
    import faiss

    from copyseal.match import ImageHash, MatchIndex, WorkFingerprint
    from copyseal.match.fingerprint import WindowHash

    faiss.omp_set_num_threads(threads)
    rng = np.random.default_rng(1)
    from copyseal.match import MatchConfig

    n_q, radius, reps = 8, MatchConfig().hash_radius, 20
    print(f"Hash index: one query = {n_q} hashes (the 8 orientations of a query; 16 when it")
    print(f"also has trimmed borders), radius {radius}, threads={threads}")
    print(
        f"{'hashes':>10} {'FAISS ms':>9} {'numpy ms':>9} {'FAISS MB':>9} {'numpy MB':>9} "
        f"{'add s':>7} {'save ms':>8} {'load ms':>8}"
    )
    empty_pts = np.zeros((0, 2), np.float32)
    empty_desc = np.zeros((0, 32), np.uint8)
    for n in sizes:
        codes = rng.integers(0, 256, (n, 8), dtype=np.uint8)
        idx = MatchIndex()
        t = time.perf_counter()
        per_work = 5
        for w in range(n // per_work):
            hs = tuple(
                WindowHash(
                    window=(0, 0, 10_000, 10_000),
                    hash=ImageHash(data=codes[w * per_work + i].tobytes()),
                )
                for i in range(per_work)
            )
            fp = WorkFingerprint(
                width=1,
                height=1,
                work_size=(1, 1),
                hashes=hs,
                points=empty_pts,
                descriptors=empty_desc,
                thumbnail_png=b"",
            )
            idx.add(f"w{w}", fp, n_descriptors=0)
        t_add = time.perf_counter() - t
        queries = [
            [ImageHash(data=c.tobytes()) for c in rng.integers(0, 256, (n_q, 8), dtype=np.uint8)]
            for _ in range(reps)
        ]
        # make one query hash a near-duplicate so the result is non-empty
        queries[0][0] = ImageHash(data=codes[7].tobytes())
        idx.search_hashes(queries[0], radius)  # warm up
        t = time.perf_counter()
        for q in queries:
            hits = idx.search_hashes(q, radius)
        t_faiss = (time.perf_counter() - t) / reps
        assert hits is not None
        as64 = codes.view(np.uint64).ravel()
        t = time.perf_counter()
        for q in queries:
            for h in q:
                qv = np.frombuffer(h.data, dtype=np.uint64)[0]
                d = np.bitwise_count(as64 ^ qv)
                np.flatnonzero(d <= radius)
        t_np = (time.perf_counter() - t) / reps
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "i.idx")
            t = time.perf_counter()
            idx.save(path)
            t_save = time.perf_counter() - t
            size = os.path.getsize(path)
            t = time.perf_counter()
            MatchIndex.load(path)
            t_load = time.perf_counter() - t
        print(
            f"{n:>10,} {_fmt_ms(t_faiss):>9} {_fmt_ms(t_np):>9} {size / 1e6:>9.1f} "
            f"{as64.nbytes / 1e6:>9.1f} {t_add:>7.1f} {_fmt_ms(t_save):>8} {_fmt_ms(t_load):>8}"
        )


def _jpeg(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def bench_end_to_end(n_works: int, n_distractors: int, n_queries: int, nprobe: int) -> None:
    import cv2

    from copyseal.match import (
        DecodedImage,
        ImageHash,
        InMemoryStore,
        MatchConfig,
        Matcher,
        MatchIndex,
        WorkFingerprint,
        fingerprint,
    )
    from copyseal.match.fingerprint import WindowHash

    cfg = MatchConfig()
    photos = E.prepare(E.load_photos())
    store = InMemoryStore()
    index = MatchIndex(nprobe=nprobe)
    matcher = Matcher(store=store, index=index, config=cfg)
    t0 = time.perf_counter()
    for w in E.REGISTERED:
        fp = fingerprint(DecodedImage.from_array(photos[w]), config=cfg)
        store.put(w, fp)
        matcher.add(w, fp)
    rng = np.random.default_rng(2)
    sources = [photos[n] for n in E.UNREGISTERED]
    for i in range(n_distractors):
        src = sources[i % len(sources)]
        h, w = src.shape[:2]
        f = rng.uniform(0.35, 0.8)
        ch, cw = int(h * f), int(w * f)
        y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        crop = src[y : y + ch, x : x + cw]
        m = cv2.getRotationMatrix2D(
            (cw / 2, ch / 2), float(rng.uniform(-30, 30)), float(rng.uniform(0.8, 1.6))
        )
        crop = cv2.warpAffine(crop, m, (cw, ch), borderMode=cv2.BORDER_REFLECT)
        fp = fingerprint(DecodedImage.from_array(np.ascontiguousarray(crop)), config=cfg)
        store.put(f"d{i}", fp)
        matcher.add(f"d{i}", fp)
    t_real = time.perf_counter() - t0
    thumb = store.get(E.REGISTERED[0]).thumbnail_png
    n_syn = n_works - len(E.REGISTERED) - n_distractors
    t0 = time.perf_counter()
    for i in range(n_syn):
        hs = tuple(
            WindowHash(window=(0, 0, 10_000, 10_000), hash=ImageHash(data=rng.bytes(8)))
            for _ in range(5)
        )
        fp = WorkFingerprint(
            width=512,
            height=512,
            work_size=(512, 512),
            hashes=hs,
            points=rng.uniform(0, 512, (cfg.work_features, 2)).astype(np.float32),
            descriptors=rng.integers(0, 256, (cfg.work_features, 32), dtype=np.uint8),
            thumbnail_png=thumb,
        )
        store.put(f"s{i}", fp)
        matcher.add(f"s{i}", fp)
    t_syn = time.perf_counter() - t0
    print(
        f"\nEnd to end: {len(index)} works ({len(E.REGISTERED)} real, {n_distractors} real-"
        f"descriptor distractors, {n_syn} synthetic); {index.n_hashes:,} hashes, "
        f"{index.n_descriptors:,} retrieval descriptors "
        f"({'inverted file' if index._is_ivf else 'flat'}); "
        f"built in {t_real:.0f} s + {t_syn:.0f} s"
    )

    backgrounds = [photos[n] for n in E.BACKGROUNDS]
    qrng = np.random.default_rng(3)
    picks = []
    for _ in range(n_queries):
        w = E.REGISTERED[int(qrng.integers(len(E.REGISTERED)))]
        e = E.EDITS[int(qrng.integers(len(E.EDITS)))]
        picks.append((w, e.name, _jpeg(e.fn(photos[w], E.rng_for(w, e.name), backgrounds))))
    matcher.match(picks[0][2])  # warm up
    times, hits = [], 0
    for w, _name, data in picks:
        t = time.perf_counter()
        found = matcher.match(data)
        times.append(time.perf_counter() - t)
        hits += any(m.work_id == w for m in found)
    negs = [_jpeg(photos[n]) for n in ("motorcycle_right", "flower_right")]
    neg_times = []
    for data in negs:
        t = time.perf_counter()
        assert matcher.match(data) == [] or True
        neg_times.append(time.perf_counter() - t)
    ts = np.array(times)
    print(f"{'queries':>8} {'mean ms':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'found':>6}")
    print(
        f"{len(ts):>8} {_fmt_ms(ts.mean())} {_fmt_ms(np.median(ts))} "
        f"{_fmt_ms(np.percentile(ts, 95))} {_fmt_ms(ts.max())} {hits / len(ts):>6.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--works", type=int, default=10_000)
    ap.add_argument("--distractors", type=int, default=500)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--nprobe", type=int, default=4, help="inverted lists visited")
    ap.add_argument("--skip-index", action="store_true", help="only the end-to-end part")
    ap.add_argument("--skip-e2e", action="store_true", help="only the index part")
    args = ap.parse_args()

    import cv2

    cv2.setNumThreads(args.threads)
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    if not args.skip_index:
        bench_index(sizes, args.threads)
    if args.skip_e2e:
        return
    if args.quick:
        bench_end_to_end(1_000, 50, 20, args.nprobe)
    else:
        bench_end_to_end(args.works, args.distractors, args.queries, args.nprobe)


if __name__ == "__main__":
    main()
