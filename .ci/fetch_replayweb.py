#!/usr/bin/env python3
"""Fetch ReplayWeb.page from the npm registry into .cache/ for the replay test.

``make setup`` runs this (standard library only: no node, npm or venv needed). It
downloads the pinned ``replaywebpage`` tarball, checks it against the registry's
``integrity`` (Subresource Integrity: base64 SHA-512), and unpacks the package into
``.cache/replaywebpage-<VERSION>/`` (``ui.js``, ``sw.js``, ``README.md``, ...).
``tests/integration/test_replay.py`` serves those files to Chromium to check that a
capture's WACZ opens in ReplayWeb.page. A stamp file makes a second run a no-op; a failed
download or integrity check exits 1 and leaves nothing behind.

To update: change VERSION and INTEGRITY (``npm view replaywebpage@X dist.integrity``)
and the folder name in tests/integration/test_replay.py.
"""

from __future__ import annotations

import io
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import NoReturn

from _npm_tarball import fetch_checked

VERSION = "2.5.3"
URL = f"https://registry.npmjs.org/replaywebpage/-/replaywebpage-{VERSION}.tgz"
INTEGRITY = (  # dist.integrity in the registry's metadata
    "sha512-nCj2PSON3BxeSJKE8AsYPyULv0XPZKJWfy4l9PyQre9S"
    "qwLZ+WKZVs/sfLqPOQ4GrH+0YkjbwOhr8cSTH08gsQ=="
)
REPO = Path(__file__).resolve().parents[1]
DEST = REPO / ".cache" / f"replaywebpage-{VERSION}"
STAMP = DEST / ".complete"
# Files the test needs; their absence means the tarball is not what we think it is.
REQUIRED = ("ui.js", "sw.js", "package.json")


def _fail(message: str) -> NoReturn:
    sys.exit(f"fetch_replayweb: {message}")


def _extract(tar: tarfile.TarFile, folder: Path) -> None:
    if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4
        # Refuses absolute paths, links out of the folder, devices.
        tar.extractall(folder, filter="data")
        return
    for member in tar.getmembers():
        name = Path(member.name)
        if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
            _fail(f"{URL} holds an unsafe entry: {member.name}")
    tar.extractall(folder)  # every entry was checked above


def _unpack(data: bytes, dest: Path) -> None:
    """Unpack the tarball's ``package/`` folder into ``dest`` (atomically, by rename)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".unpack-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            _extract(tar, Path(tmp))
        package = Path(tmp) / "package"
        missing = [name for name in REQUIRED if not (package / name).is_file()]
        if missing:
            _fail(f"{URL} has no {', '.join(missing)} in package/")
        (package / STAMP.name).write_text(f"{URL}\n{INTEGRITY}\n", encoding="utf-8")
        if dest.exists():  # without the stamp, so not ours to trust (e.g. edited by hand)
            shutil.rmtree(dest)
        package.rename(dest)


def main() -> None:
    if STAMP.is_file():
        return
    print(f"fetching ReplayWeb.page {VERSION} from {URL}")
    data = fetch_checked("fetch_replayweb", URL, INTEGRITY)
    _unpack(data, DEST)
    print(f"ReplayWeb.page {VERSION} is in {DEST.relative_to(REPO)}/")


if __name__ == "__main__":
    main()
