"""Crawl rows with works registered (``benchmarks/crawl.py --works``): the match stage.

A generated site of ``pages`` pages, three distinct real-photo JPEGs each (320-640 px
crops, rescales and small rotations of photos shipped in wheels that no work shows), of
which ~5 % are edited copies of registered works (crop 60-90 %, resize, JPEG 50-85,
mirror). Rows, all on that site in the same run:

* **bare scrapy** — fetches the same pages and images;
* **copyseal, empty catalogue** — ``copyseal crawl --no-capture``, nothing registered;
* **copyseal, 100 works** — the 19 real photos of the accuracy benchmark, 6 coloured
  flat-shape pictures and 75 colour textures (``_evalset.catalogue``), registered with
  ``copyseal register``;
* **copyseal, 10,000 works** — the same 100 plus synthetic fingerprints written to the
  workspace's tables (as ``match_speed.py`` does), so the index holds 10^4 works.

Each copyseal row reports the copies found and the false matches. The match stage alone
is measured apart, in this process: the workspace matcher over a sample of the site's
images, CPU ms per image (``time.process_time``), negatives and copies separately.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

import _evalset as E

_MB = 1024 * 1024


def _jpeg(rgb: np.ndarray, q: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="JPEG", quality=q)
    return buf.getvalue()


class PhotoSite:
    """``pages`` pages of three real-photo images; ``copies`` maps an image path to the
    work it copies."""

    def __init__(self, pages: int, works: dict[str, np.ndarray]) -> None:
        photos = E.prepare(E.load_photos())
        # Not motorcycle_right: the other stereo view of a registered photo; its crops
        # can match (a same-scene negative: match_accuracy.py measures that case).
        sources = [photos[n] for n in (*E.UNREGISTERED, "flower_right")]
        names = list(works)
        rng = np.random.default_rng(5)
        self.files: dict[str, tuple[str, bytes]] = {}
        self.copies: dict[str, str] = {}
        for i in range(pages):
            imgs = "".join(f'<img src="/img/{i}-{j}.jpg">' for j in range(3))
            links = "".join(
                f'<a href="/p/{k}.html">{k}</a> ' for k in range(8 * i + 1, min(pages, 8 * i + 9))
            )
            self.files[f"/p/{i}.html"] = (
                "text/html",
                (
                    f"<html><head><title>Page {i:06d}</title></head><body>"
                    f"<p>{'Text. ' * 80}</p>{imgs}{links}</body></html>"
                ).encode(),
            )
            for j in range(3):
                path = f"/img/{i}-{j}.jpg"
                if rng.random() < 0.05:
                    work = names[int(rng.integers(len(names)))]
                    self.copies[path] = work
                    src, f = works[work], rng.uniform(0.6, 0.9)
                else:
                    src, f = sources[int(rng.integers(len(sources)))], rng.uniform(0.3, 0.8)
                h, w = src.shape[:2]
                ch, cw = max(32, int(h * f)), max(32, int(w * f))
                y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
                im = Image.fromarray(np.ascontiguousarray(src[y : y + ch, x : x + cw]))
                if path not in self.copies:
                    im = im.rotate(float(rng.uniform(-8, 8)))
                elif rng.random() < 0.3:
                    im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
                side = int(rng.integers(320, 640))
                im.thumbnail((side, side))
                self.files[path] = ("image/jpeg", _jpeg(np.asarray(im), int(rng.integers(50, 86))))

    def get(self, path: str) -> tuple[str, bytes] | None:
        return self.files.get(path)


def works() -> dict[str, np.ndarray]:
    """The 100 works (``_evalset.catalogue``): 19 photos, 6 shapes pictures, 75 textures."""
    return E.catalogue(E.prepare(E.load_photos()))


def _pad(ws: Path, n: int) -> None:
    """Add ``n`` works with synthetic fingerprints to the workspace's tables."""
    import cv2
    from sqlalchemy import insert

    from copyseal.config import load_settings
    from copyseal.db.models import Work
    from copyseal.db.models import WorkFingerprint as FpRow
    from copyseal.db.session import create_engine
    from match_speed import synthetic_work

    settings = load_settings(ws / "config.yaml")
    engine = create_engine(settings.database.url)
    grey = np.random.default_rng(6).integers(0, 256, (192, 256), dtype=np.uint8)
    ok, png = cv2.imencode(".png", grey)
    assert ok
    rng = np.random.default_rng(4)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for start in range(0, n, 500):
            rows_w, rows_f = [], []
            for i in range(start, min(n, start + 500)):
                work_row, fp_row = synthetic_work(f"padding work {i}", rng, png.tobytes(), now)
                rows_w.append(work_row)
                rows_f.append(fp_row)
            conn.execute(insert(Work), rows_w)
            conn.execute(insert(FpRow), rows_f)
    engine.dispose()


def prepare_workspace(
    tmp: Path,
    name: str,
    n_works: int,
    originals: dict[str, np.ndarray],
    env: dict[str, str],
    engine: dict[str, Any] | None = None,
) -> tuple[Path, dict[str, str]]:
    """A workspace with ``n_works`` works and the ``match.engine`` settings ``engine``;
    returns it and work name -> work_id."""
    ws = tmp / name
    run = [sys.executable, "-m", "copyseal"]
    subprocess.run([*run, "init", str(ws)], check=True, capture_output=True, env=env)
    if engine:
        config = ws / "config.yaml"
        text = config.read_text()
        if "\n  engine: {}\n" not in text:
            raise SystemExit(f"{config}: no 'match.engine: {{}}' line to set {engine} in")
        flow = json.dumps(engine)  # JSON is YAML flow style
        config.write_text(text.replace("\n  engine: {}\n", f"\n  engine: {flow}\n", 1))
    ids: dict[str, str] = {}
    if n_works:
        folder = tmp / f"{name}-originals"
        folder.mkdir()
        for w, rgb in list(originals.items())[: min(100, n_works)]:
            (folder / f"{w}.jpg").write_bytes(_jpeg(rgb, 92))
        out = subprocess.run(
            [*run, "--config", str(ws / "config.yaml"), "register", str(folder), "--json"],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
        for rec in _records(json.loads(out)):
            ids[Path(rec["source_path"]).stem] = rec["work_id"]
        if n_works > 100:
            _pad(ws, n_works - 100)
        # Build the workspace's index cache now, as any first use after registering does
        # (`copyseal match` on one image): the crawl rows then time crawling, not the
        # one-time index build, which is printed apart.
        probe = tmp / f"{name}-probe.jpg"
        probe.write_bytes(_jpeg(next(iter(originals.values())), 80))
        t = time.perf_counter()
        subprocess.run(
            [*run, "--config", str(ws / "config.yaml"), "match", str(probe), "--json"],
            check=True,
            capture_output=True,
            env=env,
        )
        print(f"  {n_works:,} works: index cache built in {time.perf_counter() - t:.1f} s")
    return ws, ids


def _records(doc: Any) -> list[dict[str, Any]]:
    if isinstance(doc, dict):
        for key in ("works", "registered", "records"):
            if isinstance(doc.get(key), list):
                return [r for r in doc[key] if isinstance(r, dict) and "work_id" in r]
        return []
    return [r for r in doc if isinstance(r, dict) and "work_id" in r]


def match_stage_cpu(ws: Path, site: PhotoSite, sample: int = 150) -> tuple[float, float, int]:
    """CPU ms per image of the workspace matcher alone: (negatives, copies, images)."""
    import cv2

    from copyseal.config import load_settings
    from copyseal.db.session import create_engine
    from copyseal.registry import build_matcher

    cv2.setNumThreads(1)
    settings = load_settings(ws / "config.yaml")
    engine = create_engine(settings.database.url)
    matcher = build_matcher(engine, settings)
    images = [p for p in site.files if p.startswith("/img/")]
    copies = [p for p in images if p in site.copies][: sample // 5]
    negatives = [p for p in images if p not in site.copies][:sample]
    out = []
    for group in (negatives, copies):
        t = time.process_time()
        for p in group:
            matcher.match(site.files[p][1])
        out.append((time.process_time() - t) / max(1, len(group)) * 1000)
    engine.dispose()
    return out[0], out[1], len(negatives) + len(copies)


def found(ws: Path, env: dict[str, str], site: PhotoSite, ids: dict[str, str]) -> tuple[int, int]:
    """(copies found, false matches) of the workspace's last crawl."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "copyseal",
            "--config",
            str(ws / "config.yaml"),
            "matches",
            "--json",
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    doc = json.loads(out)
    rows = doc if isinstance(doc, list) else doc.get("matches", [])
    by_id = {v: k for k, v in ids.items()}
    hit, false = set(), 0
    for m in rows:
        path = "/" + str(m.get("image_url", "")).split("/", 3)[-1]
        work = by_id.get(str(m.get("work_id")))
        if work is not None and site.copies.get(path) == work:
            hit.add(path)
        else:
            false += 1
    return len(hit), false


def engine_settings(args: Any) -> dict[str, Any]:
    """``--engine KEY=VALUE`` as a mapping (values read as YAML: false, 384, 0.5)."""
    import yaml

    out: dict[str, Any] = {}
    for item in args.engine:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--engine {item!r}: expected KEY=VALUE")
        out[key] = yaml.safe_load(value)
    return out


def run_rows(
    args: Any,
    env: dict[str, str],
    tmp: Path,
    serve: Callable[[Any], tuple[str, Any]],
    measured: Callable[..., tuple[float, str, int, dict[int, int]]],
    copyseal_crawl: Callable[..., list[str]],
    bare_script: str,
) -> None:
    """Build the photo site, crawl it bare and with 0 / 100 / 10,000 works; print the table."""
    originals = works()
    site = PhotoSite(args.works_pages, originals)
    base, server = serve(site)
    n_images = sum(p.startswith("/img/") for p in site.files)
    print(
        f"\nWith works registered: {args.works_pages} pages, {n_images} real-photo images, "
        f"{len(site.copies)} edited copies of works ({len(site.copies) / n_images:.1%})"
    )
    rows: list[tuple[str, int, int, float, int, int, str]] = []
    elapsed, out, peak, at = measured(
        [sys.executable, "-c", bare_script, base + "/p/0.html"], env, pss=True
    )
    images, responses = (int(x) for x in out.split())
    rows.append(("bare scrapy (same site)", responses - images, images, elapsed, peak, at[0], ""))
    sizes = [0] + [int(x) for x in args.works.split(",") if x]
    for n in sizes:
        ws, ids = prepare_workspace(
            tmp, f"works{n}", n, originals, env, engine=engine_settings(args) if n else None
        )
        cmd = copyseal_crawl(
            tmp, f"works{n}-unused", base + "/p/0.html", env, pages=args.works_pages, render=False
        )
        cmd[cmd.index("--config") + 1] = str(ws / "config.yaml")
        if args.match_workers is not None:
            cmd[cmd.index("--config") + 2 : cmd.index("--config") + 2] = [
                "--set",
                f"match.workers={args.match_workers}",
            ]
        elapsed, out, peak, at = measured(cmd, env, pss=True)
        result = json.loads(out)
        note = ""
        if n:
            hit, false = found(ws, env, site, ids)
            neg_ms, pos_ms, _ = match_stage_cpu(ws, site)
            note = (
                f"found {hit}/{len(site.copies)}, false {false}; match stage "
                f"{neg_ms:.0f} ms CPU/negative, {pos_ms:.0f} ms/copy"
            )
        label = "copyseal, empty catalogue" if n == 0 else f"copyseal, {n:,} works"
        if n and args.engine:
            label += " *"
        rows.append((label, result["pages"], result["images"], elapsed, peak, at[0], note))
    server.shutdown()
    bare = rows[0][1] / rows[0][3]
    empty = rows[1][1] / rows[1][3]
    print(
        f"{'crawl':<28}{'pages':>6}{'images':>7}{'s':>7}{'pages/s':>8}{'x bare':>7}"
        f"{'x empty':>8}{'img/s':>7}{'peak MB':>8}{'PSS MB':>7}  notes"
    )
    for name, pages, imgs, el, pk, pss, note in rows:
        rate = pages / el
        print(
            f"{name:<28}{pages:>6}{imgs:>7}{el:>7.1f}{rate:>8.1f}{rate / bare:>7.2f}"
            f"{rate / empty:>8.2f}{imgs / el:>7.1f}{pk / _MB:>8.0f}{pss / _MB:>7.0f}  {note}"
        )
    print("targets: 100 works >= 0.5 x bare and >= 0.7 x empty; empty >= 0.7 x bare")
    if args.engine:
        print(f"* with match.engine {engine_settings(args)} (not the calibrated defaults)")
