"""BagIt (RFC 8493) tag file contents, built by hand so their bytes are deterministic.

A bag is ``bagit.txt`` (§2.1.1), a payload under ``data/`` listed with SHA-256 digests in
``manifest-sha256.txt`` (§2.1.3), ``bag-info.txt`` metadata (§2.2.2) and a tag manifest
``tagmanifest-sha256.txt`` (§2.2.1) covering every other tag file. The ``bagit`` library
validates what this writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["BAGIT_TXT", "PAYLOAD_MANIFEST", "TAGMANIFEST", "bag_info", "manifest_lines"]

BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
PAYLOAD_MANIFEST = "manifest-sha256.txt"
TAGMANIFEST = "tagmanifest-sha256.txt"


def manifest_lines(digests: Iterable[tuple[str, str]]) -> str:
    """``<sha256>  <path>`` lines, sorted by path (RFC 8493 §2.1.3)."""
    return "".join(f"{sha}  {path}\n" for path, sha in sorted(digests, key=lambda x: x[0]))


def bag_info(fields: Mapping[str, str], *, octets: int, count: int) -> str:
    """``bag-info.txt`` with the given fields, in order, then ``Payload-Oxum`` (§2.2.2).

    Values are kept on one line each (line breaks would start a new field).
    """
    lines = [f"{key}: {' '.join(str(value).split())}" for key, value in fields.items()]
    lines.append(f"Payload-Oxum: {octets}.{count}")
    return "\n".join(lines) + "\n"
