"""BagIt (RFC 8493) tag files, written by hand so their bytes are deterministic.

A bag is ``bagit.txt`` (§2.1.1), a payload under ``data/`` listed with SHA-256 digests in
``manifest-sha256.txt`` (§2.1.3), ``bag-info.txt`` metadata (§2.2.2) and a tag manifest
``tagmanifest-sha256.txt`` (§2.2.1) covering every other tag file. The ``bagit`` library
validates what this writes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["BAGIT_TXT", "TAGMANIFEST", "manifest_lines", "write_bag_info", "write_tag_manifest"]

BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
PAYLOAD_MANIFEST = "manifest-sha256.txt"
TAGMANIFEST = "tagmanifest-sha256.txt"


def manifest_lines(digests: Iterable[tuple[str, str]]) -> str:
    """``<sha256>  <path>`` lines, sorted by path (RFC 8493 §2.1.3)."""
    return "".join(f"{sha}  {path}\n" for path, sha in sorted(digests, key=lambda x: x[0]))


def write_bag_info(root: Path, fields: Mapping[str, str], *, octets: int, count: int) -> None:
    """``bag-info.txt`` with ``Payload-Oxum`` (§2.2.2) and the given fields, in order."""
    lines = [f"{key}: {value}" for key, value in fields.items()]
    lines.append(f"Payload-Oxum: {octets}.{count}")
    (root / "bag-info.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_tag_manifest(root: Path, tag_files: Iterable[str]) -> None:
    """Hash every tag file named and write ``tagmanifest-sha256.txt``."""
    digests = [(name, hashlib.sha256((root / name).read_bytes()).hexdigest()) for name in tag_files]
    (root / TAGMANIFEST).write_text(manifest_lines(digests), encoding="utf-8")
