"""``make demo``: the main job end to end on the embedded defaults.

Run as ``python -m copyseal.demo --config config.yaml``. It registers the demo works,
serves a demo site on 127.0.0.1 that shows edited copies of some of them (resized,
cropped, mirrored, recompressed, pasted into a collage, as a CSS background), crawls
it, captures and seals each page with a match into an evidence bundle anchored in the
ledger, and verifies one bundle offline. Each step is a real ``copyseal`` command,
printed before it runs, so the demo doubles as a tour of the CLI. The demo photos are
real photographs that ship inside the scikit-image and scikit-learn wheels (installed
with the ``test`` extra); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import http.server
import json
import shlex
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from copyseal.config import load_settings
from copyseal.storage import Area, open_store

__all__ = ["main", "write_demo_site", "write_demo_works"]

#: (file name, loader) of the demo works: real photos bundled in wheels.
_WORKS = (
    ("astronaut.jpg", "skimage:astronaut"),
    ("coffee.jpg", "skimage:coffee"),
    ("chelsea.jpg", "skimage:chelsea"),
    ("rocket.jpg", "skimage:rocket"),
    ("china.jpg", "sklearn:china.jpg"),
    ("flower.jpg", "sklearn:flower.jpg"),
)


def _load(spec: str) -> np.ndarray:
    source, name = spec.split(":")
    if source == "skimage":
        import skimage.data

        return np.asarray(getattr(skimage.data, name)())
    from sklearn.datasets import load_sample_image

    return np.asarray(load_sample_image(name))


def write_demo_works(folder: Path) -> list[Path]:
    """Write the demo photos as JPEG files into ``folder`` (kept if already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for filename, spec in _WORKS:
        path = folder / filename
        if not path.exists():
            Image.fromarray(_load(spec)).convert("RGB").save(path, quality=92)
        paths.append(path)
    return paths


def write_demo_site(folder: Path, works: Path) -> None:
    """A small "infringing" site: edited copies of three works, and an unrelated photo."""
    folder.mkdir(parents=True, exist_ok=True)
    astronaut = Image.open(works / "astronaut.jpg").convert("RGB")
    chelsea = Image.open(works / "chelsea.jpg").convert("RGB")
    coffee = Image.open(works / "coffee.jpg").convert("RGB")
    import skimage.data

    # A photo that is not registered: the matcher must leave it alone.
    stranger = Image.fromarray(np.asarray(skimage.data.stereo_motorcycle()[0]))  # type: ignore[no-untyped-call]
    # Edited copies: cropped, mirrored and recompressed; resized; embedded in a collage.
    astronaut.crop((60, 30, 460, 480)).transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize(
        (320, 360)
    ).save(folder / "hero.jpg", quality=70)
    chelsea.resize((240, 160)).save(folder / "thumb-cat.webp", quality=80)
    collage = Image.new("RGB", (900, 500), (240, 240, 240))
    collage.paste(stranger.convert("RGB").resize((420, 420)), (20, 40))
    collage.paste(coffee.resize((420, 280)), (460, 110))
    collage.save(folder / "collage.jpg", quality=85)
    stranger.convert("RGB").save(folder / "about.jpg", quality=85)
    page = "<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"
    (folder / "index.html").write_text(
        page.format(
            title="Totally Original Photos",
            body="<h1>Our photos</h1><img src='hero.jpg' alt='hero'>"
            "<picture><source srcset='thumb-cat.webp' type='image/webp'>"
            "<img src='thumb-cat.webp'></picture>"
            "<p><a href='shop.html'>shop</a> <a href='about.html'>about</a></p>",
        ),
        encoding="utf-8",
    )
    (folder / "shop.html").write_text(
        page.format(
            title="Shop",
            body="<h1>Prints for sale</h1>"
            "<div style=\"width:900px;height:500px;background-image:url('collage.jpg')\"></div>",
        ),
        encoding="utf-8",
    )
    (folder / "about.html").write_text(
        page.format(title="About", body="<h1>About us</h1><img src='about.jpg' width='400'>"),
        encoding="utf-8",
    )


def _run(args: list[str], *, capture: bool = False) -> str:
    shown = " ".join(shlex.quote(a) for a in ["copyseal", *args])
    print(f"\n$ {shown}", flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "copyseal", *args],
        check=False,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    if done.returncode != 0:
        raise SystemExit(f"demo step failed (exit {done.returncode}): {shown}")
    return done.stdout or ""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    config = parser.parse_args(argv).config
    settings = load_settings(config)
    cfg = ["--config", str(config)]
    if not settings.workspace.signing_key.exists():
        _run([*cfg, "init"])
    store = open_store(settings.workspace.evidence_dir)
    demo = store.folder(Area.DEMO)
    works_dir = demo / "works"
    write_demo_works(works_dir)
    write_demo_site(demo / "site", works_dir)
    _run(
        [
            *cfg,
            "register",
            str(works_dir),
            "--owner",
            "Demo Photographer",
            "--licence",
            "all rights reserved",
        ]
    )
    _run([*cfg, "works"])
    server, base = _serve(demo / "site")
    try:
        print(f"\nA demo site with edited copies is being served at {base}", flush=True)
        report: dict[str, Any] = json.loads(
            _run(
                [*cfg, "crawl", base, "--allow-private", "--capture", "--no-progress", "--json"],
                capture=True,
            )
        )
    finally:
        server.shutdown()
        server.server_close()
    counts = f"{report['pages']} pages, {report['images']} images"
    print(f"crawled {counts}: {report['match_count']} match(es)")
    for m in report["matches"]:
        print(f"  {m['work_id']}  score {m['score']:.2f}  {m['image_url']}  on {m['page_url']}")
    sealed = [o for o in report["sealed"] if o["bundle"]]
    for o in report["sealed"]:
        print(f"  sealed {o['page_url']} -> {o['bundle']['path'] if o['bundle'] else o['error']}")
    if not sealed:
        raise SystemExit("demo: no page was sealed")
    vkey = settings.workspace.signing_key.with_suffix(".vkey")
    vkey.write_text(
        json.loads(_run([*cfg, "ledger", "vkey", "--json"], capture=True))["vkey"] + "\n"
    )
    _run(["verify", sealed[0]["bundle"]["path"], "--vkey", str(vkey)])
    _run([*cfg, "ledger", "status"])
    print(
        f"\nDemo workspace: {settings.base_dir}\n"
        f"  database:   {settings.database.url}\n"
        f"  bundles:    {store.folder(Area.BUNDLES)}\n"
        f"  ledger key: {vkey}\n"
        f"  verify any bundle offline: copyseal verify BUNDLE --vkey {vkey}\n"
        f"  review the matches in a browser: copyseal users add me --role admin &&"
        f" copyseal serve   (then open http://127.0.0.1:8000/)"
    )


if __name__ == "__main__":
    main()
