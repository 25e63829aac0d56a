"""Fetching an npm registry tarball and checking it against its pinned ``dist.integrity``
(Subresource Integrity: ``ALGORITHM-BASE64DIGEST``), for the fetch scripts beside this
file. Standard library only: no node, npm or venv needed."""

from __future__ import annotations

import base64
import hashlib
import sys
import urllib.error
import urllib.request
from typing import NoReturn


def fail(script: str, message: str) -> NoReturn:
    sys.exit(f"{script}: {message}")


def fetch_checked(script: str, url: str, integrity: str, *, timeout: float = 120) -> bytes:
    """The bytes at ``url``, exiting with a message naming ``script`` if the download fails
    or the bytes do not have the pinned ``integrity`` (nothing is unpacked then)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data: bytes = response.read()
    except (urllib.error.URLError, OSError) as e:
        fail(script, f"could not download {url}: {e}")
    algorithm, _, expected = integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode("ascii")
    if actual != expected:
        fail(
            script,
            f"integrity check failed for {url}: expected {integrity}, "
            f"got {algorithm}-{actual} ({len(data)} bytes); nothing was unpacked",
        )
    return data
