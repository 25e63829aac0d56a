"""``make demo``: the main job end to end on the embedded defaults.

Run as ``python -m copyseal.demo --config config.yaml``. Each step is a real ``copyseal``
command, printed before it runs, so the demo doubles as a tour of the CLI. The demo
photos are real photographs that ship inside the scikit-image and scikit-learn wheels
(installed with the ``test`` extra); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

from copyseal.config import load_settings

__all__ = ["main", "write_demo_works"]

#: (file name, loader) of the demo works: real photos bundled in wheels.
_WORKS = (
    ("astronaut.jpg", "skimage:astronaut"),
    ("coffee.jpg", "skimage:coffee"),
    ("chelsea.jpg", "skimage:chelsea"),
    ("rocket.jpg", "skimage:rocket"),
    ("china.jpg", "sklearn:china.jpg"),
    ("flower.jpg", "sklearn:flower.jpg"),
)


def _load(spec: str) -> object:
    source, name = spec.split(":")
    if source == "skimage":
        import skimage.data

        return getattr(skimage.data, name)()
    from sklearn.datasets import load_sample_image

    return load_sample_image(name)


def write_demo_works(folder: Path) -> list[Path]:
    """Write the demo photos as JPEG files into ``folder`` (kept if already there)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for filename, spec in _WORKS:
        path = folder / filename
        if not path.exists():
            Image.fromarray(_load(spec)).convert("RGB").save(path, quality=92)  # type: ignore[arg-type]
        paths.append(path)
    return paths


def _run(args: list[str]) -> None:
    shown = " ".join(shlex.quote(a) for a in ["copyseal", *args])
    print(f"\n$ {shown}", flush=True)
    done = subprocess.run([sys.executable, "-m", "copyseal", *args], check=False)
    if done.returncode != 0:
        raise SystemExit(f"demo step failed (exit {done.returncode}): {shown}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    config = parser.parse_args(argv).config
    settings = load_settings(config)
    cfg = ["--config", str(config)]
    if not settings.workspace.signing_key.exists():
        _run([*cfg, "init"])
    works_dir = settings.workspace.evidence_dir / "demo" / "works"
    write_demo_works(works_dir)
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
    print(
        f"\nDemo workspace: {settings.base_dir}\n"
        f"  database: {settings.database.url}\n"
        f"  evidence: {settings.workspace.evidence_dir}\n"
        f"  public key: {settings.workspace.signing_key.with_suffix('.pub')}"
    )


if __name__ == "__main__":
    main()
