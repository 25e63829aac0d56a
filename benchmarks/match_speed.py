"""Index query time and memory at scale, and end-to-end time per query image.

Usage::

    .venv/bin/python benchmarks/match_speed.py [--quick] [--threads N]

Part 1 — the hash index (``FaissIndex.search_hashes``: FAISS ``IndexBinaryFlat`` scan
for the query's own orientation at ``hash_radius``, multi-index chunk tables for the 7
turned orientations at ``hash_radius_turned``) holding 10^4, 10^5, 10^6 and 5·10^6
synthetic 64-bit hashes (uniformly random, seeded; 5 per work, so 5·10^6 is 10^6
works), against the former all-flat search and a brute-force numpy baseline (XOR +
``np.bitwise_count`` over a ``uint64`` array) in the same run. A query is one query
image's 8 hashes (the 8 orientations of the whole image; 16 when the query also has
trimmed borders). Memory is the index's serialised size (FAISS keeps the codes plus an
id map; the chunk tables are built at the first query and not saved).

Part 2 — end to end: 10^4 registered works, of which the 19 real photos of the accuracy
benchmark, ``--distractors`` fingerprints of random crops/rotations of the *unregistered*
photos (real ORB descriptors, so retrieval meets realistic near neighbours) and the rest
synthetic (random hashes and descriptors; they pad the index but are never near a query).
Queries are a seeded sample of the accuracy benchmark's positive edits, given as JPEG bytes
(so the time includes decoding). One thread for OpenCV and FAISS.

Part 3 — workspace start-up (``copyseal.registry.build_matcher``): a SQLite workspace
holding ``--startup-works`` works with synthetic fingerprints of realistic size (1,000
keypoints, a real thumbnail), started without the index cache (parse every fingerprint,
build, train the inverted file), started cold (the same, plus writing the cache) and
started warm (load the cached index; fingerprints are read lazily) and started after 10
more registrations (the cached index is updated, not rebuilt), each then with a query.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

import _evalset as E


def _fmt_ms(s: float) -> str:
    return f"{1000 * s:8.2f}"


def bench_index(sizes: list[int], threads: int) -> None:
    import tempfile

    import faiss

    from copyseal.match import FaissIndex, ImageHash, MatchConfig, WorkFingerprint
    from copyseal.match.fingerprint import WindowHash

    faiss.omp_set_num_threads(threads)
    rng = np.random.default_rng(1)
    cfg = MatchConfig()
    reps = 20
    print(
        f"Hash index, threads={threads}. One query = a query image's hashes: 8 (its 8 "
        f"orientations) or 16 (also its border-trimmed inside); the own orientation at "
        f"radius {cfg.hash_radius} (flat scan), the 7 turned ones at radius "
        f"{cfg.hash_radius_turned} (chunk tables). 'all r16' is the former way (every hash "
        f"through the flat scan at radius {cfg.hash_radius}); numpy is brute force "
        f"(XOR + popcount over every code, each query hash)."
    )
    print(
        f"{'hashes':>10} {'8 q ms':>7} {'16 q ms':>8} {'all r16':>8} {'numpy ms':>9} "
        f"{'MB':>6} {'add s':>6} {'tables s':>9} {'save ms':>8} {'load ms':>8}"
    )
    empty_pts = np.zeros((0, 2), np.float32)
    empty_desc = np.zeros((0, 32), np.uint8)
    for n in sizes:
        codes = rng.integers(0, 256, (n, 8), dtype=np.uint8)
        idx = FaissIndex()
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
            [ImageHash(data=c.tobytes()) for c in rng.integers(0, 256, (16, 8), dtype=np.uint8)]
            for _ in range(reps)
        ]
        # make one query hash a near-duplicate so the result is non-empty
        queries[0][0] = ImageHash(data=codes[7].tobytes())
        radii8 = [cfg.hash_radius] + [cfg.hash_radius_turned] * 7
        radii16 = radii8 + radii8
        t = time.perf_counter()
        idx.search_hashes(queries[0][:8], radii8)  # warm up (builds the chunk tables)
        t_tables = time.perf_counter() - t

        def timed(idx: FaissIndex, qs: list[list[ImageHash]], radii: int | list[int]) -> float:
            t = time.perf_counter()
            for q in qs:
                idx.search_hashes(q, radii)
            return (time.perf_counter() - t) / len(qs)

        q8, q16 = [q[:8] for q in queries], queries
        t8, t16 = timed(idx, q8, radii8), timed(idx, q16, radii16)
        t_flat = timed(idx, q8, cfg.hash_radius)
        as64 = codes.view(np.uint64).ravel()
        t = time.perf_counter()
        for q in queries:
            for h, r in zip(q[:8], radii8, strict=True):
                qv = np.frombuffer(h.data, dtype=np.uint64)[0]
                np.flatnonzero(np.bitwise_count(as64 ^ qv) <= r)
        t_np = (time.perf_counter() - t) / reps
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "i.idx")
            t = time.perf_counter()
            idx.save(path)
            t_save = time.perf_counter() - t
            size = os.path.getsize(path)
            t = time.perf_counter()
            FaissIndex.load(path)
            t_load = time.perf_counter() - t
        print(
            f"{n:>10,} {_fmt_ms(t8)[1:]:>7} {_fmt_ms(t16):>8} {_fmt_ms(t_flat):>8} "
            f"{_fmt_ms(t_np):>9} {size / 1e6:>6.1f} {t_add:>6.1f} {t_tables:>9.2f} "
            f"{_fmt_ms(t_save):>8} {_fmt_ms(t_load):>8}"
        )


def _jpeg(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def bench_end_to_end(
    n_works: int, n_distractors: int, n_queries: int, nprobe: int, overrides: dict | None = None
) -> None:
    import cv2

    from copyseal.match import (
        DecodedImage,
        FaissIndex,
        InMemoryStore,
        MatchConfig,
        Matcher,
        fingerprint,
    )

    cfg = MatchConfig.from_mapping(overrides or {})
    photos = E.prepare(E.load_photos())
    store = InMemoryStore()
    index = FaissIndex(nprobe=nprobe)
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
        fp = synthetic_fingerprint(rng, cfg.work_features, thumb)
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


def synthetic_fingerprint(rng: np.random.Generator, n: int, thumbnail_png: bytes) -> Any:
    """A random 512 x 512 ``WorkFingerprint`` (5 window hashes, ``n`` random ORB points and
    descriptors) that pads an in-memory catalogue and matches nothing real."""
    from copyseal.match import ImageHash, WorkFingerprint
    from copyseal.match.fingerprint import WindowHash

    return WorkFingerprint(
        width=512,
        height=512,
        work_size=(512, 512),
        hashes=tuple(
            WindowHash(window=(0, 0, 10_000, 10_000), hash=ImageHash(data=rng.bytes(8)))
            for _ in range(5)
        ),
        points=rng.uniform(0, 512, (n, 2)).astype(np.float32),
        descriptors=rng.integers(0, 256, (n, 32), dtype=np.uint8),
        thumbnail_png=thumbnail_png,
    )


def synthetic_work(
    label: str, rng: np.random.Generator, thumbnail_png: bytes, now: object
) -> tuple[dict[str, object], dict[str, object]]:
    """A ``works`` row and its ``work_fingerprints`` row with a random fingerprint (5
    window hashes, ``MatchConfig.work_features`` random ORB points and descriptors): a
    work that pads a catalogue and matches nothing real."""
    import hashlib

    from copyseal.match import ImageHash, MatchConfig, WorkFingerprint
    from copyseal.match.fingerprint import WindowHash
    from copyseal.registry._index_cache import SCHEME

    n = MatchConfig().work_features
    data = WorkFingerprint(
        width=1024,
        height=768,
        work_size=(512, 384),
        hashes=tuple(
            WindowHash(window=(0, 0, 10_000, 10_000), hash=ImageHash(data=rng.bytes(8)))
            for _ in range(5)
        ),
        points=rng.uniform(0, 384, (n, 2)).astype(np.float32),
        descriptors=rng.integers(0, 256, (n, 32), dtype=np.uint8),
        thumbnail_png=thumbnail_png,
    ).to_bytes()
    sha = hashlib.sha256(label.encode()).hexdigest()
    work = {
        "work_id": sha[:32],
        "sha256": sha,
        "size": 1,
        "width": 1024,
        "height": 768,
        "format": "JPEG",
        "exif": "{}",
        "registered_at": now,
    }
    fingerprint = {
        "work_id": sha[:32],
        "scheme": SCHEME,
        "data": data,
        "digest": hashlib.sha256(data).hexdigest(),
        "created_at": now,
    }
    return work, fingerprint


def bench_startup(n_works: int) -> None:
    import logging
    import tempfile
    from datetime import UTC, datetime
    from pathlib import Path

    import cv2
    from sqlalchemy import create_engine, insert

    from copyseal.config import load_settings
    from copyseal.db.base import Base
    from copyseal.db.models import Work
    from copyseal.db.models import WorkFingerprint as FpRow
    from copyseal.match import MatchConfig
    from copyseal.registry import build_matcher
    from copyseal.registry._index_cache import index_dir

    logging.getLogger("copyseal").setLevel(logging.ERROR)
    cfg = MatchConfig()
    photos = E.prepare(E.load_photos())
    grey = cv2.cvtColor(photos[E.REGISTERED[0]], cv2.COLOR_RGB2GRAY)
    ok, png = cv2.imencode(".png", cv2.resize(grey, (256, 192)))
    assert ok
    rng = np.random.default_rng(4)
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        # Only the two tables the matcher reads (no migrations: other stages' tables).
        engine = create_engine(f"sqlite:///{tmp}/copyseal.db")
        Base.metadata.create_all(engine, tables=[Work.__table__, FpRow.__table__])
        base = load_settings(None, env={})
        settings = base.model_copy(
            update={
                "workspace": base.workspace.model_copy(
                    update={"evidence_dir": Path(tmp) / "evidence"}
                )
            }
        )
        t = time.perf_counter()
        works, fps = [], []
        for i in range(n_works + 10):
            work_row, fp_row = synthetic_work(f"work {i}", rng, png.tobytes(), now)
            works.append(work_row)
            fps.append(fp_row)
            if i >= n_works:
                continue  # the last 10 are registered between two starts
            if len(works) == 1000 or i == n_works - 1:
                with engine.begin() as conn:
                    conn.execute(insert(Work), works)
                    conn.execute(insert(FpRow), fps)
                works, fps = [], []
        works_extra, fps_extra = works, fps
        t_fill = time.perf_counter() - t
        query = _jpeg(photos[E.REGISTERED[1]])
        rows = []
        for label, use_cache in (
            ("no cache (rebuild)", False),
            ("cold (rebuild + write cache)", True),
            ("warm (load cache)", True),
            ("+10 works (update cache)", True),
        ):
            if label.startswith("+10"):
                with engine.begin() as conn:
                    conn.execute(insert(Work), works_extra)
                    conn.execute(insert(FpRow), fps_extra)
            t = time.perf_counter()
            matcher = build_matcher(engine, settings, use_cache=use_cache)
            t_start = time.perf_counter() - t
            t = time.perf_counter()
            matcher.match(query)
            rows.append((label, t_start, time.perf_counter() - t))
        size = sum(p.stat().st_size for p in index_dir(settings).glob("*.idx"))
        index = matcher.matcher.index
        print(
            f"\nWorkspace start-up: {n_works:,} works (SQLite, synthetic fingerprints of "
            f"{cfg.work_features} keypoints; filled in {t_fill:.0f} s); index "
            f"{index.n_hashes:,} hashes, {index.n_descriptors:,} descriptors "
            f"({'inverted file' if index._is_ivf else 'flat'}), cache file {size / 1e6:.0f} MB"
        )
        print(f"{'start':<30} {'start s':>8} {'first query ms':>15}")
        for label, t_start, t_query in rows:
            print(f"{label:<30} {t_start:>8.2f} {_fmt_ms(t_query):>15}")
        engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--works", type=int, default=10_000)
    ap.add_argument("--distractors", type=int, default=500)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--nprobe", type=int, default=4, help="inverted lists visited")
    ap.add_argument("--skip-index", action="store_true", help="only the end-to-end part")
    ap.add_argument("--skip-e2e", action="store_true", help="skip the end-to-end part")
    ap.add_argument("--skip-startup", action="store_true", help="skip the start-up part")
    ap.add_argument("--startup-works", type=int, default=10_000)
    ap.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="MatchConfig override"
    )
    args = ap.parse_args()

    import cv2

    cv2.setNumThreads(args.threads)
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000, 5_000_000]
    if not args.skip_index:
        bench_index(sizes, args.threads)
    if not args.skip_startup:
        bench_startup(1_000 if args.quick else args.startup_works)
    if args.skip_e2e:
        return
    if args.quick:
        bench_end_to_end(1_000, 50, 20, args.nprobe)
    else:
        import yaml

        overrides = {k: yaml.safe_load(v) for k, _, v in (a.partition("=") for a in args.set)}
        bench_end_to_end(args.works, args.distractors, args.queries, args.nprobe, overrides)


if __name__ == "__main__":
    main()
