"""``make demo``: the main job end to end on the embedded defaults.

Run as ``python -m copyseal.demo --config config.yaml``. It registers the demo works,
serves a demo site on 127.0.0.1 that shows edited copies of some of them (resized,
cropped, mirrored, recompressed, pasted into a collage, as a CSS background), crawls
it, captures and seals each page with a match into an evidence bundle anchored in the
ledger, changes the site and re-visits every match (``copyseal revisit``), then anchors
the ledger's checkpoint outside it: on a local EVM chain (anvil, which
``make setup`` installs) and with a loopback RFC 3161 time-stamping authority, both started
by the demo and stopped at its end (:mod:`copyseal._demo_anchors`). It writes one bundle's
anchor proof and verifies the bundle with it offline. Each step is a real ``copyseal`` command,
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

from copyseal._demo_anchors import EVM_NAME, DemoAnchors, demo_anchors
from copyseal.config import load_settings
from copyseal.loopback import LoopbackError, require_anvil
from copyseal.loopback.tsa import openssl
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


def _revisit(cfg: list[str], site: Path, works: Path) -> None:
    """The site changes (the hero picture re-cropped, the cat thumbnail taken down) and a
    second visit of every match records it, each visit sealed as a new bundle."""
    astronaut = Image.open(works / "astronaut.jpg").convert("RGB")
    astronaut.crop((150, 40, 420, 300)).resize((320, 308)).save(site / "hero.jpg", quality=70)
    index = site / "index.html"
    page = index.read_text(encoding="utf-8")
    start, end = page.index("<picture>"), page.index("</picture>") + len("</picture>")
    index.write_text(page[:start] + page[end:], encoding="utf-8")
    print(
        "\nThe site changed: the hero picture is another crop now and the cat thumbnail was"
        " taken down. A second visit of every match (each visit sealed as a new bundle):",
        flush=True,
    )
    _run([*cfg, "revisit", "--allow-private"])


def _timeline(cfg: list[str], site: str) -> None:
    """The infringer's record after the second visit: its first line is the one-line
    timeline (in use from ... to ..., seen N times, removed on ...)."""
    print("\nThe record of the demo site (first capture, then every visit):", flush=True)
    _run([*cfg, "timeline", site])


def _anchor_and_verify(
    anchors: DemoAnchors, bundle: dict[str, Any], vkey: Path, proofs: Path
) -> str:
    """Deploy the anchor contract (once), anchor the newest checkpoint, write ``bundle``'s
    anchor proof and verify the bundle with it; the verify command, for people."""
    cfg = ["--config", str(anchors.config)]
    print(
        f"\nAnchoring outside the ledger: anvil (a local EVM chain) at {anchors.node.url} and"
        f" a loopback RFC 3161 TSA at {anchors.tsa.url}, both started by the demo.\n"
        f"{anchors.config} is config.yaml plus an anchors section naming them; the chain key"
        f" in {anchors.key_file} is anvil's development key 0, a PUBLIC test key.",
        flush=True,
    )
    contract = anchors.contract()
    if contract is None:
        deployed = json.loads(_run([*cfg, "anchors", "deploy", EVM_NAME, "--json"], capture=True))
        anchors.deployed.write_text(json.dumps(deployed) + "\n", encoding="utf-8")
        contract = deployed["contract"]
        print(f"deployed the anchor contract {contract} in block {deployed['block_number']}")
    else:
        print(f"\nthe anchor contract {contract} was deployed by an earlier run")
    results = json.loads(_run([*cfg, "anchors", "run", "--json"], capture=True))
    for r in results:
        where = f"{r['kind']}:{r['name']}"
        if "error" in r:
            raise SystemExit(f"demo: anchor {where} failed: {r['error']}")
        if r["kind"] == "evm":
            said = f"block {r['block_number']}, tx {r['tx_hash']}, gas {r['gas_used']:,}"
        elif r["kind"] == "rfc3161":
            said = f"time stamp of {r['gen_time']}"
        else:
            said = "signed by the ledger's own key"
        print(f"  anchored checkpoint {r['size']:,} with {where}: {said}")
    proofs.mkdir(parents=True, exist_ok=True)
    proof = proofs / f"{bundle['bundle_id']}.anchor-proof.json"
    proof.unlink(missing_ok=True)  # the demo's own file, from an earlier run
    _run([*cfg, "bundles", "anchor-proof", bundle["bundle_id"], "--out", str(proof)])
    args = [
        "verify",
        bundle["path"],
        "--vkey",
        str(vkey),
        "--anchor-proof",
        str(proof),
        "--tsa-ca",
        str(anchors.tsa_ca),
    ]
    _run(args)
    return " ".join(shlex.quote(a) for a in ["copyseal", *args])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    config = parser.parse_args(argv).config
    settings = load_settings(config)
    cfg = ["--config", str(config)]
    try:  # before anything else: the demo ends by anchoring, which needs both
        require_anvil()
        openssl()
    except LoopbackError as e:
        raise SystemExit(f"demo: {e}") from e
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
        counts = f"{report['pages']} pages, {report['images']} images"
        print(f"crawled {counts}: {report['match_count']} match(es)")
        for m in report["matches"]:
            print(f"  {m['work_id']}  score {m['score']:.2f}  {m['image_url']}  on {m['page_url']}")
        sealed = [o for o in report["sealed"] if o["bundle"]]
        for o in report["sealed"]:
            where = o["bundle"]["path"] if o["bundle"] else o["error"]
            print(f"  sealed {o['page_url']} -> {where}")
        if not sealed:
            raise SystemExit("demo: no page was sealed")
        _revisit(cfg, demo / "site", works_dir)
        _timeline(cfg, "127.0.0.1")
    finally:
        server.shutdown()
        server.server_close()
    vkey = settings.workspace.signing_key.with_suffix(".vkey")
    vkey.write_text(
        json.loads(_run([*cfg, "ledger", "vkey", "--json"], capture=True))["vkey"] + "\n"
    )
    _run([*cfg, "ledger", "status"])
    bundle = sealed[0]["bundle"]
    try:
        with demo_anchors(settings, demo / "anchors") as anchors:
            verify_command = _anchor_and_verify(anchors, bundle, vkey, demo / "proofs")
    except LoopbackError as e:
        raise SystemExit(f"demo: {e}") from e
    print("\nanvil and the loopback TSA are stopped; the proof needs neither to verify.")
    print(
        f"\nDemo workspace: {settings.base_dir}\n"
        f"  database:   {settings.database.url}\n"
        f"  bundles:    {store.folder(Area.BUNDLES)}\n"
        f"  ledger key: {vkey}\n"
        f"  verify any bundle offline: copyseal verify BUNDLE --vkey {vkey}\n"
        f"  verify this bundle with its anchor proof (offline):\n    {verify_command}\n"
        f"  review the matches in a browser: copyseal users add me --role admin &&"
        f" copyseal serve   (then open http://127.0.0.1:8000/)"
    )


if __name__ == "__main__":
    main()
