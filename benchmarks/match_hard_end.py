"""Recall at the hard end — 40-50 % crops and 30-50 % embeds — on tuned and untuned photos.

Usage::

    .venv/bin/python benchmarks/match_hard_end.py [--quick] [--set key=value ...]

``MatchConfig`` was calibrated on ``_evalset.REGISTERED`` as works (``match_accuracy.py``).
This runs the hard edit families (``crop 50-40%``: centred and off-centre 50 % and 40 %
crops; ``embed 30-50%``: the work pasted at 30/40/50 % of a collage's width) on those
works and, separately, on photos never registered while the thresholds were tuned:
scikit-image's ``coins``, ``gravel``, ``microaneurysms``, ``horse``, the right view of
``stereo_motorcycle`` (its left view is not registered in this set), scikit-learn's
``flower`` right half and matplotlib's Minduka. Collage backgrounds for the untuned set are
tuned-set photos (not registered there). Each set has its own index; no negatives here.

The untuned set then served to choose ``work_min_side``, ``thumb_min_side`` and the
``faint_*`` detection (its 41-64 px crops of the two smallest photos were the misses), so
a third set, **holdout**, checks those choices on photos that played no part in any
setting: the three photos that mahotas ships in its wheel (``mahotas/demos/data``: a
department store interior, a portrait and a fluorescence micrograph), as shipped and, in a
set of their own, reduced to 128 px (small works, the case those settings are for). They
are read from the installed package without importing it; the rows are skipped, with a
note, when mahotas is not installed (``pip install -e '.[bench]'`` installs it).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

import _evalset as E

UNTUNED = (
    "coins",
    "gravel",
    "microaneurysms",
    "horse",
    "motorcycle_right",
    "flower_right",
    "minduka",
)
UNTUNED_BACKGROUNDS = ("astronaut", "camera", "chelsea", "coffee", "rocket", "page")
HOLDOUT = ("department_store", "luispedro", "nuclear")
HOLDOUT_SMALL = tuple(f"{name}@128" for name in HOLDOUT)
_MAHOTAS = {
    "department_store": "DepartmentStore.jpg",
    "luispedro": "luispedro.jpg",
    "nuclear": "nuclear.png",
}
FAMILIES = ("crop 50-40%", "embed 30-50%")


def _photos() -> dict[str, np.ndarray]:
    import skimage.data as sk

    photos = E.prepare(E.load_photos())
    photos["microaneurysms"] = E._rgb(sk.microaneurysms())
    photos["horse"] = E._rgb(sk.horse())
    photos.update(_holdout())
    return photos


def _holdout() -> dict[str, np.ndarray]:
    """The photos in mahotas's wheel, found through its import spec (mahotas itself, a C
    extension built against one numpy, is not imported); {} when it is not installed."""
    import importlib.util

    from PIL import Image

    spec = importlib.util.find_spec("mahotas")
    if spec is None or not spec.submodule_search_locations:
        return {}
    data = os.path.join(next(iter(spec.submodule_search_locations)), "demos", "data")
    out = {}
    for name, file in _MAHOTAS.items():
        with Image.open(os.path.join(data, file)) as im:
            out[name] = E._rgb(np.asarray(im.convert("RGB")))
        # The same photo registered small (longest side 128 px, an icon or a
        # thumbnail): the case work_min_side and the faint detection are for.
        out[f"{name}@128"] = E.thumbnail(out[name], 128)
    return out


def recall(
    photos: dict[str, np.ndarray],
    works: tuple[str, ...],
    backgrounds: tuple[str, ...],
    overrides: dict[str, Any],
) -> tuple[dict[str, tuple[int, int]], list[str]]:
    from copyseal.match import DecodedImage, FaissIndex, InMemoryStore, MatchConfig, Matcher

    cfg = MatchConfig.from_mapping(overrides)
    store = InMemoryStore()
    matcher = Matcher(store=store, index=FaissIndex(), config=cfg, colours=store)
    for w in works:
        matcher.add(w, E.put_work(store, w, photos[w], cfg))
    bgs = [photos[b] for b in backgrounds]
    counts: dict[str, tuple[int, int]] = {}
    misses = []
    for edit in E.EDITS:
        if edit.family not in FAMILIES:
            continue
        for w in works:
            img = edit.fn(photos[w], E.rng_for(w, edit.name), bgs)
            found = {m.work_id for m in matcher.match(DecodedImage.from_array(img))}
            hit, n = counts.get(edit.family, (0, 0))
            counts[edit.family] = (hit + (w in found), n + 1)
            if w not in found:
                misses.append(f"{w}/{edit.name}")
            if found - {w}:
                misses.append(f"{w}/{edit.name}: FALSE {sorted(found - {w})}")
    return counts, misses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 works per set")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    import cv2
    import faiss
    import yaml

    cv2.setNumThreads(1)
    faiss.omp_set_num_threads(1)
    overrides = {k: yaml.safe_load(v) for k, _, v in (s.partition("=") for s in args.set)}
    photos = _photos()
    sets = {
        "tuned (REGISTERED)": (E.REGISTERED, E.BACKGROUNDS),
        "untuned": (UNTUNED, UNTUNED_BACKGROUNDS),
        "holdout (mahotas)": (HOLDOUT, UNTUNED_BACKGROUNDS),
        "holdout at 128 px": (HOLDOUT_SMALL, UNTUNED_BACKGROUNDS),
    }
    print(f"{'photo set':<22}{'family':<16}{'n':>5}{'recall':>8}   (target >= 0.95)")
    for label, (works, bgs) in sets.items():
        works = works[:3] if args.quick else works
        if any(w not in photos for w in works):
            print(f"{label:<22}skipped: mahotas is not installed (pip install -e '.[bench]')")
            continue
        counts, misses = recall(photos, works, bgs, overrides)
        for fam in FAMILIES:
            hit, n = counts[fam]
            print(f"{label:<22}{fam:<16}{n:>5}{hit / n:>8.3f}")
        print(f"  misses: {', '.join(misses) or 'none'}")


if __name__ == "__main__":
    main()
