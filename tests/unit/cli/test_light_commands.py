"""Light commands stay light: each runs in a fresh interpreter without the heavy stack.

`register`, `works`, `match`, `verify`, `ledger` and `users` are what a rights holder or a
court expert runs most, often on a laptop, and `crawls`, `matches` and `schedule list` what
an operator polls while crawls run; they must never pay for Scrapy, Twisted, Playwright or
FastAPI (seconds of import and hundreds of MB), and `verify`, `--version` and the crawl
listings not for OpenCV or FAISS either. Each command really runs (on a real
workspace, with a real photo), and the test reads the interpreter's ``sys.modules``
when it is done, so a lazy import inside a command body is caught as well.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from copyseal.cli import main

#: Top-level packages no light command may load.
WEB_AND_CRAWL = frozenset({"scrapy", "twisted", "playwright", "fastapi", "starlette", "uvicorn"})
#: Also kept out of `verify` and `--version`: image decoding and the retrieval index.
IMAGE_STACK = frozenset({"cv2", "faiss"})

_DRIVER = """
import json, sys
from copyseal.cli import main
try:
    main(sys.argv[2:])
except SystemExit as e:
    code = e.code
else:
    code = 0
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}, out)
"""


def _run_fresh(tmp_path: Path, argv: list[str]) -> tuple[int, set[str]]:
    report = tmp_path / f"modules-{abs(hash(tuple(argv)))}.json"
    subprocess.run(
        [sys.executable, "-c", _DRIVER, str(report), *argv],
        check=False,
        capture_output=True,
        timeout=120,
    )
    data = json.loads(report.read_text())
    return int(data["code"] or 0), set(data["modules"])


@pytest.fixture(scope="module")
def light_workspace(
    tmp_path_factory: pytest.TempPathFactory, photos: dict[str, np.ndarray]
) -> dict[str, Path]:
    from PIL import Image

    root = tmp_path_factory.mktemp("light")
    for name in ("astronaut", "coffee"):
        Image.fromarray(photos[name]).save(root / f"{name}.jpg", quality=92)
    with pytest.raises(SystemExit) as e:
        main(["init", str(root / "ws")])
    assert e.value.code == 0
    config = root / "ws" / "config.yaml"
    with pytest.raises(SystemExit) as e:
        main(["--config", str(config), "register", str(root / "astronaut.jpg")])
    assert e.value.code == 0
    # A crawl job to list (created, not run: listing it must not need the crawler).
    from copyseal.config import load_settings
    from copyseal.crawl import JobSpec
    from copyseal.crawl._store import JobStore
    from copyseal.workspace import Workspace

    ws = Workspace.open(load_settings(config))
    try:
        JobStore(ws.engine).create_job(JobSpec(target="t", urls=("http://127.0.0.1:9/",)))
    finally:
        ws.close()
    return {"root": root, "config": config}


def _commands(ws: dict[str, Path]) -> dict[str, tuple[list[str], frozenset[str]]]:
    root, cfg = ws["root"], str(ws["config"])
    receipt = root / "receipt.txt"
    vkey = root / "vkey.txt"
    if not receipt.exists():
        out = subprocess.run(
            [sys.executable, "-m", "copyseal", "--config", cfg, "ledger", "proof", "0", "--json"],
            check=True,
            capture_output=True,
            text=True,
        )
        receipt.write_text(json.loads(out.stdout)["receipt"])
        out = subprocess.run(
            [sys.executable, "-m", "copyseal", "--config", cfg, "ledger", "vkey", "--json"],
            check=True,
            capture_output=True,
            text=True,
        )
        vkey.write_text(json.loads(out.stdout)["vkey"])
    not_a_bundle = root / "empty-folder"
    not_a_bundle.mkdir(exist_ok=True)
    light = WEB_AND_CRAWL
    lightest = WEB_AND_CRAWL | IMAGE_STACK
    c = ["--config", cfg]
    return {
        "version": (["--version"], lightest),
        "works": ([*c, "works", "--json"], light),
        "register": ([*c, "register", str(root / "coffee.jpg"), "--json"], light),
        "match": ([*c, "match", str(root / "astronaut.jpg"), "--json"], light),
        "verify-receipt": (
            [*c, "verify", str(receipt), "--vkey", str(vkey), "--leaf-hash", "00" * 32],
            lightest,
        ),
        "verify-bundle": ([*c, "verify", str(not_a_bundle), "--vkey", str(vkey)], lightest),
        "ledger": ([*c, "ledger", "status", "--json"], light),
        "users": ([*c, "users", "list", "--json"], light),
        "crawls": ([*c, "crawls", "--json"], lightest),
        "matches": ([*c, "matches", "--json"], lightest),
        "schedules": ([*c, "schedule", "list", "--json"], lightest),
    }


@pytest.mark.parametrize(
    "name",
    [
        "version",
        "works",
        "register",
        "match",
        "verify-receipt",
        "verify-bundle",
        "ledger",
        "users",
        "crawls",
        "matches",
        "schedules",
    ],
)
def test_light_command_loads_no_heavy_stack(
    name: str, light_workspace: dict[str, Path], tmp_path: Path
) -> None:
    argv, forbidden = _commands(light_workspace)[name]
    code, modules = _run_fresh(tmp_path, argv)
    assert "copyseal" in modules  # the command ran in that interpreter
    assert modules & forbidden == set(), f"{name} loaded {sorted(modules & forbidden)}"
    if name in ("verify-receipt", "verify-bundle"):
        assert code == 3  # a wrong leaf hash and a folder that is no bundle both fail
    else:
        assert code == 0


def test_the_check_sees_a_heavy_import(tmp_path: Path) -> None:
    """The driver really reports what a command loaded (so the test above can fail)."""
    report = tmp_path / "m.json"
    subprocess.run(
        [sys.executable, "-c", "import cv2\n" + _DRIVER, str(report), "--version"],
        check=False,
        capture_output=True,
        timeout=120,
    )
    assert "cv2" in set(json.loads(report.read_text())["modules"])


def test_verifying_a_receipt_loads_no_other_anchor_kind(tmp_path: Path) -> None:
    """The anchor table imports a kind's class when it is looked up: checking a receipt
    (the ledger kind) loads neither web3 nor rfc3161-client."""
    report = tmp_path / "m.json"
    script = (
        "import json, sys\n"
        "from copyseal.anchors import ANCHORS, AnchorContext, anchor_for\n"
        "sorted(ANCHORS)\n"
        "json.dump(sorted({m.split('.')[0] for m in sys.modules}), open(sys.argv[1], 'w'))\n"
    )
    subprocess.run([sys.executable, "-c", script, str(report)], check=True, timeout=120)
    modules = set(json.loads(report.read_text()))
    assert "copyseal" in modules
    assert modules & {"web3", "eth_account", "Crypto", "rfc3161_client"} == set()
