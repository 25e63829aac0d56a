"""Same works found? A matcher change judged query by query against a real workspace.

Usage::

    .venv/bin/python benchmarks/match_same_answers.py [--works 100,10000]
        [--try nprobe=2] [--try vote_features=500,knn=2] [--negatives 100] [--quick]

A change to retrieval or thresholds is kept only when it loses nothing; recall per family
(``match_accuracy.py``) can hide a lost copy behind a found one. This runs every query
through the workspace matcher with its own settings and with each ``--try`` (``nprobe``,
the inverted lists :class:`~copyseal.match.FaissIndex` visits, or any ``MatchConfig``
key; several joined by commas), and prints the CPU per query and each query whose works
changed. The queries: ``match_accuracy.py``'s (its 19 photos' edits, unregistered and
same-scene negatives, as arrays), and the crawl benchmark's edited copies and its first
``--negatives`` other images (JPEG bytes, as a crawl hands them over). The works: the
crawl benchmark's 100 (``_crawl_works.works``), registered with ``copyseal register``
in a fresh workspace, padded with synthetic fingerprints to the larger sizes.

The same index trained again (work by work instead of at once) changed the answers of
three queries of 1,081 (``benchmarks/README.md``, seventh session): a change that moves
only those is within the index's own variation.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

import _crawl_works as C
import _evalset as E
from match_accuracy import build_queries

Answers = dict[str, tuple[str, ...]]


def _parse(spec: str) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise SystemExit(f"--try {spec!r}: expected KEY=VALUE[,KEY=VALUE...]")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _queries(works: dict[str, Any], n_negatives: int, quick: bool) -> list[tuple[str, Any]]:
    from copyseal.match import DecodedImage

    photos = E.prepare(E.load_photos())
    registered = E.QUICK_REGISTERED if quick else E.REGISTERED
    out: list[tuple[str, Any]] = [
        (f"accuracy {q.name}", DecodedImage.from_array(q.image))
        for q in build_queries(photos, registered)
    ]
    site = C.PhotoSite(60 if quick else 300, works)
    images = [p for p in site.files if p.startswith("/img/")]
    copies = [p for p in images if p in site.copies]
    negatives = [p for p in images if p not in site.copies][:n_negatives]
    out += [(f"crawl {p}", site.files[p][1]) for p in copies + negatives]
    return out


def _run(matcher: Any, queries: list[tuple[str, Any]]) -> tuple[Answers, float]:
    t = time.process_time()
    answers = {name: tuple(sorted(m.work_id for m in matcher.match(q))) for name, q in queries}
    return answers, (time.process_time() - t) / len(queries) * 1000


def _apply(wm: Any, change: dict[str, Any], config: Any, nprobe: int | None) -> None:
    """Set ``change`` on the workspace matcher (``config``/``nprobe``: its own values)."""
    from copyseal.match import MatchConfig

    engine_keys = {k: v for k, v in change.items() if k != "nprobe"}
    wm.matcher.config = MatchConfig.from_mapping({**dataclasses.asdict(config), **engine_keys})
    if "nprobe" in change or nprobe is not None:
        wm.matcher.index.nprobe = int(change.get("nprobe", nprobe))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--works", default="100", help="catalogue sizes, comma-separated")
    ap.add_argument("--try", dest="tries", action="append", default=[], metavar="K=V[,K=V]")
    ap.add_argument("--negatives", type=int, default=100, help="crawl-site negatives")
    ap.add_argument("--quick", action="store_true", help="6 accuracy works, a 60-page site")
    args = ap.parse_args()
    changes = [_parse(s) for s in args.tries]
    import cv2
    import faiss

    from copyseal.config import load_settings
    from copyseal.db.session import create_engine
    from copyseal.registry import build_matcher

    cv2.setNumThreads(1)
    faiss.omp_set_num_threads(1)
    works = C.works()
    queries = _queries(works, args.negatives, args.quick)
    print(f"{len(queries):,} queries; baseline: the workspace's own settings")
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="copyseal-same-") as tmp:
        for n in [int(x) for x in args.works.split(",") if x]:
            ws, _ = C.prepare_workspace(Path(tmp), f"works{n}", n, works, env)
            settings = load_settings(ws / "config.yaml")
            engine = create_engine(settings.database.url)
            wm = build_matcher(engine, settings)
            config = wm.matcher.config
            nprobe = getattr(wm.matcher.index, "nprobe", None)
            if any("nprobe" in c for c in changes) and nprobe is None:
                raise SystemExit("nprobe: the workspace's index is not a FaissIndex")
            wm.matcher.match(queries[-1][1])  # the index mapped, caches warm
            base, ms = _run(wm.matcher, queries)
            print(f"\n{n:,} works{'':<26}ms/query   lost  gained")
            print(f"  {'baseline':<34}{ms:>8.1f}")
            for spec, change in zip(args.tries, changes, strict=True):
                _apply(wm, change, config, nprobe)
                answers, ms = _run(wm.matcher, queries)
                _apply(wm, {}, config, nprobe)
                lost = [k for k in base if set(base[k]) - set(answers[k])]
                gained = [k for k in base if set(answers[k]) - set(base[k])]
                print(f"  {spec:<34}{ms:>8.1f}{len(lost):>7}{len(gained):>8}")
                for label, names in (("lost", lost), ("gained", gained)):
                    if names:
                        print(f"    {label}: {', '.join(names)}")
            engine.dispose()


if __name__ == "__main__":
    main()
