#!/usr/bin/env python3
"""Fetch anvil (Foundry's local EVM node) from the npm registry into .cache/ for the tests.

``make setup`` runs this (standard library only: no node, npm or venv needed). It
downloads the pinned ``@foundry-rs/anvil-linux-amd64`` tarball (the platform package that
holds the binary ``@foundry-rs/anvil`` installs), checks it against the registry's
``integrity`` (Subresource Integrity: base64 SHA-512), and unpacks the binary as
``.cache/anvil-<VERSION>/anvil``. ``tests/unit/anchors`` start it on loopback to anchor
checkpoints on a real EVM chain, and so does the demo. A stamp file makes a second run a
no-op; a failed download or integrity check exits 1 and leaves nothing behind. Only x86_64
Linux is supported: elsewhere it says so and exits 1.

To update: change VERSION and INTEGRITY
(``npm view @foundry-rs/anvil-linux-amd64@X dist.integrity``).
"""

from __future__ import annotations

import io
import os
import platform
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import NoReturn

from _npm_tarball import fetch_checked

VERSION = "1.7.1"
PACKAGE = "@foundry-rs/anvil-linux-amd64"
URL = f"https://registry.npmjs.org/{PACKAGE}/-/anvil-linux-amd64-{VERSION}.tgz"
INTEGRITY = (  # dist.integrity in the registry's metadata
    "sha512-+XmShybEaxfCrr0OUUZwYEy2OnYZt5pHH9TzBtLv3+VrK0O/"
    "ANuNSVEahqNhKHlgX7GRJ59383ofNhxkRWIYTg=="
)
REPO = Path(__file__).resolve().parents[1]
DEST = REPO / ".cache" / f"anvil-{VERSION}"
STAMP = DEST / ".complete"
BINARY = "bin/anvil"  # inside the tarball's package/ folder


def _fail(message: str) -> NoReturn:
    sys.exit(f"fetch_anvil: {message}")


def _check_platform() -> None:
    machine = platform.machine().lower()
    if sys.platform != "linux" or machine not in ("x86_64", "amd64"):
        _fail(
            f"only x86_64 Linux is supported (this is {sys.platform} {machine}); install anvil"
            f" {VERSION} from Foundry by hand and put it at {DEST.relative_to(REPO)}/anvil"
        )


def _unpack(data: bytes, dest: Path) -> None:
    """Unpack the tarball's binary as ``dest/anvil`` (atomically, by rename)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".unpack-") as tmp:
        folder = Path(tmp) / "anvil"
        folder.mkdir()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            try:
                member = tar.getmember(f"package/{BINARY}")
            except KeyError:
                _fail(f"{URL} has no package/{BINARY}")
            source = tar.extractfile(member) if member.isfile() else None
            if source is None:
                _fail(f"{URL}: package/{BINARY} is not a regular file")
            with source, (folder / "anvil").open("wb") as out:
                shutil.copyfileobj(source, out)
        os.chmod(folder / "anvil", 0o755)
        (folder / STAMP.name).write_text(f"{URL}\n{INTEGRITY}\n", encoding="utf-8")
        if dest.exists():  # without the stamp, so not ours to trust (e.g. edited by hand)
            shutil.rmtree(dest)
        folder.rename(dest)


def main() -> None:
    if STAMP.is_file():
        return
    _check_platform()
    print(f"fetching anvil {VERSION} from {URL}")
    data = fetch_checked("fetch_anvil", URL, INTEGRITY)
    _unpack(data, DEST)
    print(f"anvil {VERSION} is in {DEST.relative_to(REPO)}/")


if __name__ == "__main__":
    main()
