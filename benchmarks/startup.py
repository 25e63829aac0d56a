"""Start-up benchmark: how long the light commands take, in fresh interpreters.

Run: ``.venv/bin/python benchmarks/startup.py [--runs 7] [--src PATH]``

Each command runs ``--runs`` times as a new process (``python -m copyseal ...``) on a
fresh workspace with one registered photo; the table gives the median and the fastest
wall time, and the heavy packages the command loaded. Baselines in the same run: a bare
interpreter (``python -c pass``), ``import copyseal``, and importing the heavy stack
(Scrapy, Playwright, OpenCV, FastAPI) that the light commands avoid. ``--src PATH``
measures another checkout's ``src/`` (for a before/after comparison) with the same
interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("scrapy", "twisted", "playwright", "fastapi", "cv2", "faiss")

_PROBE = """
import json, sys, runpy
out = sys.argv.pop(1)
sys.argv[0] = "copyseal"
try:
    runpy.run_module("copyseal", run_name="__main__")
except SystemExit:
    pass
with open(out, "w") as fh:
    json.dump(sorted({m.split(".")[0] for m in sys.modules}), fh)
"""


def _env(src: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


def _time(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, check=False, capture_output=True)
        times.append(time.perf_counter() - t0)
    return times


def _loaded(args: list[str], env: dict[str, str], folder: Path) -> list[str]:
    out = folder / "modules.json"
    subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), *args], env=env, check=False, capture_output=True
    )
    modules = set(json.loads(out.read_text())) if out.exists() else set()
    return [h for h in HEAVY if h in modules]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--src", type=Path, help="another checkout's src/ to measure")
    args = parser.parse_args()
    env = _env(args.src)
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        import skimage.data
        from PIL import Image

        photo = folder / "astronaut.jpg"
        Image.fromarray(skimage.data.astronaut()).save(photo, quality=92)
        cs = [py, "-m", "copyseal"]
        subprocess.run([*cs, "init", str(folder / "ws")], env=env, check=True, capture_output=True)
        cfg = ["--config", str(folder / "ws" / "config.yaml")]
        subprocess.run(
            [*cs, *cfg, "register", str(photo)], env=env, check=True, capture_output=True
        )
        proof = subprocess.run(
            [*cs, *cfg, "ledger", "proof", "0", "--json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        receipt = folder / "receipt.txt"
        receipt.write_text(json.loads(proof.stdout)["receipt"])
        vkey = subprocess.run(
            [*cs, *cfg, "ledger", "vkey"], env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
        commands: list[tuple[str, list[str] | None, list[str]]] = [
            ("baseline: python -c pass", None, [py, "-c", "pass"]),
            ("baseline: import copyseal", None, [py, "-c", "import copyseal"]),
            (
                "baseline: import the heavy stack",
                None,
                [py, "-c", "import scrapy, playwright.async_api, cv2, fastapi, faiss"],
            ),
            ("copyseal --version", ["--version"], []),
            ("copyseal works", [*cfg, "works", "--json"], []),
            ("copyseal ledger status", [*cfg, "ledger", "status", "--json"], []),
            ("copyseal crawls", [*cfg, "crawls", "--json"], []),
            ("copyseal matches", [*cfg, "matches", "--json"], []),
            (
                "copyseal verify RECEIPT",
                [*cfg, "verify", str(receipt), "--vkey", vkey, "--data", str(photo)],
                [],
            ),
        ]
        print(f"{'command':<36} | {'median s':>8} | {'best s':>7} | heavy packages loaded")
        print("-" * 90)
        for label, cli_args, argv in commands:
            if cli_args is not None:
                argv = [*cs, *cli_args]
                heavy = ", ".join(_loaded(cli_args, env, folder)) or "none"
            else:
                heavy = "-"
            times = _time(argv, env, args.runs)
            print(f"{label:<36} | {statistics.median(times):8.3f} | {min(times):7.3f} | {heavy}")


if __name__ == "__main__":
    main()
