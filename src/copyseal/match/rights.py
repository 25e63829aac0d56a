"""Rights metadata (copyright management information) in an image's bytes, and how a
found copy's compares with the original's.

Copyright management information is the author, rights notice and licence terms carried
with a work; removing or altering it is a separate violation in many laws (17 U.S.C.
§1202, Art. 7 of the EU InfoSoc Directive 2001/29/EC). The fields read are the ones
photographers and agencies set:

- EXIF ``Artist`` and ``Copyright`` (EXIF 2.32, tags 0x013B and 0x8298);
- IPTC IIM ``By-line`` (2:80), ``Credit`` (2:110) and ``Copyright Notice`` (2:116);
- XMP ``dc:creator``, ``dc:rights``, ``xmpRights:WebStatement`` and ``plus:Licensor``.

They are read with exiv2 through pyexiv2 (its wheel bundles the library; it reads EXIF,
IPTC and XMP from bytes in memory). A C2PA manifest is read and validated with the C2PA
SDK (``c2pa-python``): "present" means a manifest is embedded and its signature and
hashes validate, "invalid" that one is embedded and does not validate. Trust in the
signer's certificate is not judged.

Bytes in, facts out: nothing here touches the web or a database, and nothing raises on
bad metadata; a block that cannot be read, or a value over the size limit, becomes a
warning in the result.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = [
    "FIELDS",
    "MAX_FIELD_CHARS",
    "C2paState",
    "RightsMetadata",
    "compare",
    "read_rights",
]

log = logging.getLogger(__name__)

C2paState = Literal["absent", "present", "invalid"]

#: Report names of the rights fields, and the exiv2 keys each is read from.
FIELDS: Final[Mapping[str, str]] = {
    "exif:Artist": "Exif.Image.Artist",
    "exif:Copyright": "Exif.Image.Copyright",
    "iptc:By-line": "Iptc.Application2.Byline",
    "iptc:Credit": "Iptc.Application2.Credit",
    "iptc:CopyrightNotice": "Iptc.Application2.Copyright",
    "xmp:dc:creator": "Xmp.dc.creator",
    "xmp:dc:rights": "Xmp.dc.rights",
    "xmp:xmpRights:WebStatement": "Xmp.xmpRights.WebStatement",
    "xmp:plus:Licensor": "Xmp.plus.Licensor",
}

#: A value longer than this is kept as its SHA-256 (still compared exactly), with a warning.
MAX_FIELD_CHARS: Final = 4096
#: Images larger than this are not parsed for metadata at all (a warning says so).
MAX_BYTES: Final = 200 * 1024 * 1024
#: The JUMBF box label of a C2PA manifest store (C2PA 2.1 §11.1.4.2): without it in the
#: bytes there is no embedded manifest, and the SDK need not be loaded.
_C2PA_LABEL: Final = b"c2pa"
_EXIV2_LOCK = threading.Lock()


@dataclass(frozen=True, kw_only=True)
class RightsMetadata:
    """The rights fields of one image (normalised text by report name) and its C2PA state."""

    fields: dict[str, str] = field(default_factory=dict)
    c2pa: C2paState = "absent"
    #: Why some metadata could not be read (the fields read are still reported).
    warnings: tuple[str, ...] = ()
    #: False when the metadata blocks could not be parsed at all.
    readable: bool = True

    def to_json(self) -> dict[str, Any]:
        """The stored and reported form (``works.rights_metadata``, ``register --json``)."""
        return {
            "fields": dict(sorted(self.fields.items())),
            "c2pa": self.c2pa,
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RightsMetadata:
        fields = data.get("fields") or {}
        c2pa = data.get("c2pa", "absent")
        return cls(
            fields={str(k): str(v) for k, v in fields.items()},
            c2pa=c2pa if c2pa in ("absent", "present", "invalid") else "invalid",
            warnings=tuple(str(w) for w in data.get("warnings") or ()),
        )

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of the fields and C2PA state (warnings left out):
        what a registration statement commits to."""
        body = {"fields": dict(sorted(self.fields.items())), "c2pa": self.c2pa}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _normalise(value: Any) -> str:
    """One text per field: lists joined with "; ", language alternatives reduced to
    ``x-default`` (or the first), Unicode NFC, runs of whitespace collapsed."""
    if isinstance(value, Mapping):
        alt = value.get('lang="x-default"')
        value = alt if alt is not None else next(iter(value.values()), "")
    if isinstance(value, list | tuple):
        value = "; ".join(_normalise(v) for v in value)
    text = unicodedata.normalize("NFC", str(value))
    return " ".join(text.replace("\x00", " ").split())


def _bounded(name: str, text: str, warnings: list[str]) -> str:
    if len(text) <= MAX_FIELD_CHARS:
        return text
    warnings.append(f"{name}: {len(text)} characters, over {MAX_FIELD_CHARS}; kept as a digest")
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _open(data: bytes, warnings: list[str]) -> Any:
    """An exiv2 image over ``data``, or None when exiv2 refuses it.

    exiv2 reports a corrupt block (a malformed XMP packet, say) as an error, which pyexiv2
    raises at log level 3 ("error") and skips at level 4 ("mute"). The image is opened
    strictly first so the problem is recorded, then again muted to keep the blocks that
    are sound. The level is process-wide, hence the lock.
    """
    import pyexiv2

    with _EXIV2_LOCK:
        pyexiv2.set_log_level(3)
        try:
            return pyexiv2.ImageData(data)
        except Exception as e:  # exiv2 raises RuntimeError for any corrupt block
            warnings.append(f"metadata partly unreadable: {e}")
        pyexiv2.set_log_level(4)
        try:
            return pyexiv2.ImageData(data)
        except Exception as e:
            warnings.append(f"metadata unreadable: {e}")
            return None
        finally:
            pyexiv2.set_log_level(3)


def _read_blocks(data: bytes, warnings: list[str]) -> dict[str, Any] | None:
    """The exiv2 keys of every block, or None when exiv2 refuses the image."""
    image = _open(data, warnings)
    if image is None:
        return None
    found: dict[str, Any] = {}
    try:
        for block, read in (
            ("EXIF", image.read_exif),
            ("IPTC", image.read_iptc),
            ("XMP", image.read_xmp),
        ):
            try:
                values = read()
            except Exception as e:  # one bad block must not hide the others
                warnings.append(f"{block} unreadable: {e}")
                continue
            found.update(values)
    finally:
        image.close()
    return found


def _licensor(values: Mapping[str, Any]) -> str | None:
    """``plus:Licensor`` is a sequence of structures; exiv2 flattens it to one key per
    member (``Xmp.plus.Licensor[1]/plus:LicensorName``)."""
    parts = [
        _normalise(v)
        for k, v in sorted(values.items())
        if k.startswith("Xmp.plus.Licensor[") and "/" in k and _normalise(v)
    ]
    return "; ".join(parts) or None


def _c2pa_state(data: bytes, mime: str | None, warnings: list[str]) -> C2paState:
    if _C2PA_LABEL not in data:
        return "absent"
    try:
        import c2pa
    except ImportError:  # pragma: no cover - a declared dependency
        warnings.append("C2PA: the c2pa-python package is not installed; not validated")
        return "invalid"
    try:
        reader = c2pa.Reader.try_create(mime or "image/jpeg", io.BytesIO(data))
        if reader is None:
            return "absent"
        try:
            state = reader.get_validation_state()
        finally:
            reader.close()
    except Exception as e:  # the SDK raises C2paError subclasses for bad manifests
        warnings.append(f"C2PA manifest does not validate: {e}")
        return "invalid"
    if str(state).lower() == "invalid":
        warnings.append("C2PA manifest does not validate")
        return "invalid"
    return "present"


def _mime(data: bytes) -> str | None:
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if data[4:12] in (b"ftypavif", b"ftypheic", b"ftypmif1"):
        return "image/avif" if data[8:12] == b"avif" else "image/heic"
    return None


def read_rights(data: bytes) -> RightsMetadata:
    """The rights fields and C2PA state of an image's bytes (never raises)."""
    warnings: list[str] = []
    if len(data) > MAX_BYTES:
        return RightsMetadata(
            warnings=(f"{len(data)} bytes is over {MAX_BYTES}; metadata not read",),
            readable=False,
        )
    values = _read_blocks(data, warnings)
    fields: dict[str, str] = {}
    if values is not None:
        for name, key in FIELDS.items():
            raw = _licensor(values) if name == "xmp:plus:Licensor" else values.get(key)
            if raw is None:
                continue
            text = _normalise(raw)
            if text:
                fields[name] = _bounded(name, text, warnings)
    c2pa = _c2pa_state(data, _mime(data), warnings)
    for w in warnings:
        log.warning("rights metadata: %s", w)
    return RightsMetadata(
        fields=fields, c2pa=c2pa, warnings=tuple(warnings), readable=values is not None
    )


def compare(original: RightsMetadata, found: RightsMetadata) -> dict[str, Any]:
    """How a found copy's rights metadata compares with the original's.

    Returns ``{"fields": {NAME: {"status", "original", "found"}}, "c2pa": STATE}``: a field
    is ``kept`` (same normalised text), ``altered`` (both values) or ``removed`` (the copy
    lacks it); fields the original lacks are not reported. ``c2pa`` is ``present`` (the
    copy's manifest validates), ``invalid`` (it has one that does not), ``removed`` (the
    original had one, the copy has none) or ``absent`` (neither has one). When the copy's
    metadata could not be parsed at all, no field is judged and ``warnings`` says why.
    """
    report: dict[str, Any] = {"fields": {}, "c2pa": found.c2pa}
    if found.c2pa == "absent" and original.c2pa != "absent":
        report["c2pa"] = "removed"
    if found.warnings:
        report["warnings"] = list(found.warnings)
    if not found.readable:
        return report
    for name, value in sorted(original.fields.items()):
        other = found.fields.get(name)
        status = "removed" if other is None else "kept" if other == value else "altered"
        report["fields"][name] = {"status": status, "original": value, "found": other}
    return report
