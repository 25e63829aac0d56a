"""The bundle's ``manifest.json``: what was captured, where, when, and every file's hash.

The manifest is canonical JSON — UTF-8, keys sorted, no insignificant whitespace, no
NaN or infinities — so ``dumps(loads(b)) == b`` and its bytes are reproducible. Its
bytes are signed verbatim and are, verbatim, the leaf data of the bundle's ledger entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from copyseal import _json
from copyseal.errors import BundleError, VerificationError

__all__ = [
    "FORMAT",
    "FileEntry",
    "Manifest",
    "canonical_dumps",
    "parse_manifest",
    "safe_path",
]

#: The bundle format this code writes (and the only one it reads).
FORMAT = "copyseal-bundle/1"
_HEX64 = re.compile(r"[0-9a-f]{64}")
# A safe relative path inside data/: no absolute paths, no "..", no backslashes.
_SAFE_PATH = re.compile(r"data/(?:[A-Za-z0-9._-]+/)*[A-Za-z0-9._-]+")


def canonical_dumps(obj: Any) -> bytes:
    """Canonical JSON bytes (sorted keys, compact separators, UTF-8, finite numbers only)."""
    try:
        text = json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except ValueError as e:
        raise BundleError(f"manifest cannot be canonical JSON: {e}") from e
    return text.encode("utf-8")


@dataclass(frozen=True, kw_only=True)
class FileEntry:
    """One evidence file: its path inside the bundle, SHA-256, size and media type."""

    path: str
    sha256: str
    size: int
    media_type: str

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "media_type": self.media_type,
        }


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """The parsed manifest (see the README's "Evidence bundles" section for every field)."""

    bundle_id: str
    url: str
    captured_at: datetime
    files: tuple[FileEntry, ...]
    #: The match report: the registered work, scores, transform, region (or None for a
    #: capture on demand without a match).
    match: Mapping[str, Any] | None
    #: A short summary of the capture (final URL, status, server IP, errors); the full facts
    #: are in an evidence file.
    capture: Mapping[str, Any]
    #: Who made the bundle (BagIt ``Source-Organization``).
    organization: str
    #: The software that made it (BagIt ``Bag-Software-Agent``), e.g. ``copyseal 0.1.0``.
    software: str

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "bundle_id": self.bundle_id,
            "url": self.url,
            "captured_at": self.captured_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "files": [f.to_json() for f in sorted(self.files, key=lambda f: f.path)],
            "match": dict(self.match) if self.match is not None else None,
            "capture": dict(self.capture),
            "organization": self.organization,
            "software": self.software,
        }

    def to_bytes(self) -> bytes:
        """The canonical bytes (what is signed and logged)."""
        return canonical_dumps(self.to_json())


def _require(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        raise VerificationError(f"manifest.json: field '{key}' is missing or malformed")
    return value


def safe_path(path: str) -> bool:
    """Whether ``path`` is a safe evidence file path: ``data/`` then plain name parts."""
    return bool(_SAFE_PATH.fullmatch(path)) and not any(p in (".", "..") for p in path.split("/"))


def _file_entry(item: Any) -> FileEntry:
    if not isinstance(item, dict):
        raise VerificationError("manifest.json: a 'files' entry is not an object")
    path = _require(item, "path", str)
    sha = _require(item, "sha256", str)
    size = _require(item, "size", int)
    media = _require(item, "media_type", str)
    if not safe_path(path):
        raise VerificationError(f"manifest.json: unsafe file path {path!r}")
    if not _HEX64.fullmatch(sha) or size < 0:
        raise VerificationError(f"manifest.json: bad hash or size for {path}")
    return FileEntry(path=path, sha256=sha, size=size, media_type=media)


def parse_manifest(data: bytes) -> Manifest:
    """Parse and check a manifest; it must be in canonical form, byte for byte.

    Raises:
        VerificationError: not UTF-8 JSON, not canonical, unknown format, bad fields.
    """
    try:
        obj = _json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise VerificationError("manifest.json: not UTF-8 JSON") from e
    if not isinstance(obj, dict):
        raise VerificationError("manifest.json: not a JSON object")
    try:
        canonical = canonical_dumps(obj)
    except BundleError as e:
        raise VerificationError(f"manifest.json: {e}") from e
    if canonical != data:
        raise VerificationError("manifest.json: not in canonical form (re-serialised bytes differ)")
    if obj.get("format") != FORMAT:
        raise VerificationError(f"manifest.json: unknown format {obj.get('format')!r}")
    files = tuple(_file_entry(item) for item in _require(obj, "files", list))
    if len({f.path for f in files}) != len(files):
        raise VerificationError("manifest.json: a file is listed twice")
    try:
        captured = datetime.strptime(_require(obj, "captured_at", str), "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError as e:
        raise VerificationError("manifest.json: 'captured_at' is not an RFC 3339 UTC time") from e
    match = obj.get("match")
    if match is not None and not isinstance(match, dict):
        raise VerificationError("manifest.json: 'match' is not an object")
    return Manifest(
        bundle_id=_require(obj, "bundle_id", str),
        url=_require(obj, "url", str),
        captured_at=captured.replace(tzinfo=UTC),
        files=files,
        match=match,
        capture=_require(obj, "capture", dict),
        organization=_require(obj, "organization", str),
        software=_require(obj, "software", str),
    )
