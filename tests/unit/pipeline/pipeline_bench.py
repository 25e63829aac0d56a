"""Helpers of the pipeline tests: a workspace whose works are the gallery's."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from copyseal.config import Settings, load_settings
from copyseal.registry import register_paths
from copyseal.workspace import Workspace, init_workspace

#: Fast, local crawls: no politeness delays, short timeouts.
FAST = ("crawl.autothrottle=false", "crawl.timeout=4", "crawl.settle_timeout=1.5")


def jpeg(pixels: np.ndarray, **kw: object) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", **kw)
    return out.getvalue()


@dataclass(frozen=True)
class Bench:
    """A workspace's configuration file and the overrides it is opened with."""

    config: Path
    overrides: tuple[str, ...]

    def settings(self) -> Settings:
        return load_settings(self.config, overrides=self.overrides, env={})

    def open(self) -> Workspace:
        return Workspace.open(self.settings())


def make_bench(root: Path, works: dict[str, bytes], *, overrides: tuple[str, ...] = ()) -> Bench:
    """An initialised workspace in ``root`` with ``works`` (name -> JPEG bytes) registered."""
    init_workspace(root)
    folder = root / "works"
    folder.mkdir()
    for name, data in works.items():
        (folder / f"{name}.jpg").write_bytes(data)
    bench = Bench(config=root / "config.yaml", overrides=(*FAST, *overrides))
    ws = bench.open()
    try:
        assert all(hasattr(r, "work_id") for r in register_paths(ws, [folder]))
    finally:
        ws.close()
    return bench
