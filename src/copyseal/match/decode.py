"""Decode untrusted image bytes into RGB pixels, refusing what is not a usable image.

Everything downloaded by the crawler passes through :func:`decode`, so it treats its input
as hostile: the format is sniffed from the bytes (the file name and extension are never
trusted), the pixel count is checked from the header *before* any pixel is decoded
(decompression bombs), and every failure becomes a :class:`~copyseal.errors.DecodeError`
naming the input and the reason, so one bad file never stops a batch.

Normalisation follows what a viewer shows: EXIF orientation is applied (CIPA DC-008
"Exif 2.32", tag 0x0112), CMYK/16-bit/palette/greyscale become 8-bit RGB, and alpha is
composited over white. Animated GIF/WebP give a few evenly spaced frames.

A caller that only needs a smaller image (the matcher: ``MatchConfig.decode_side``) can ask
for ``reduce_to``: a JPEG is then decoded by libjpeg's scaled IDCT at 1/2, 1/4 or 1/8 of
its size (Pillow's ``Image.draft``), several times cheaper than a full decode, never below
the size asked for.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import struct
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from copyseal.errors import DecodeError

__all__ = ["DecodedImage", "decode", "sniff"]

#: Formats accepted, as Pillow names them. MPO is a multi-picture JPEG (phone cameras).
_ALLOWED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF", "TIFF", "BMP", "HEIF", "AVIF"})

#: Magic numbers of the accepted formats (sniffed before Pillow sees the bytes, so that a
#: PDF, EPS or PSD with an image extension is refused by name rather than half-parsed).
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)

_SVG_RE = re.compile(
    rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*(<!DOCTYPE svg[^>]*>\s*)?<svg[\s>]", re.S
)

#: What Pillow raises on a corrupt file while reading headers, frame lists or pixels: its
#: own ``Image.open`` treats ``SyntaxError``, ``IndexError``, ``TypeError`` and
#: ``struct.error`` as "not this format"; after opening, a cut multi-page TIFF raised
#: ``TypeError`` ("Missing dimensions", from a ``KeyError``) while counting its frames
#: (found by ``tests/fuzz/test_match_decode.py``). ``KeyError`` and ``ZeroDivisionError``
#: are kept as a margin for other plugins' header arithmetic.
_CORRUPT = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    TypeError,
    KeyError,
    IndexError,
    ZeroDivisionError,
    struct.error,
)

#: Default number of frames sampled from an animated image.
DEFAULT_MAX_FRAMES = 4


@dataclass(frozen=True, kw_only=True)
class DecodedImage:
    """A decoded, normalised image and the facts about its bytes.

    Attributes:
        rgb: The (first) frame as an ``H x W x 3`` ``uint8`` array, orientation applied.
        frames: All sampled frames (``rgb`` is ``frames[0]``); one for still images.
        format: The sniffed container format (``"JPEG"``, ``"PNG"``, ``"SVG"``, ...).
        width: Width of the image in pixels (after EXIF orientation): the original's,
            also when ``rgb`` was decoded reduced (``scale`` < 1).
        height: Height of the image in pixels, likewise.
        exif: EXIF tags by name, values made JSON-safe (bytes become hex, capped).
        sha256: SHA-256 hex digest of the original bytes.
        size: Length of the original bytes.
        n_frames: Number of frames in the original (animated images have more than one).
        name: The name given to :func:`decode`, used in messages.
        scale: Pixels of ``rgb`` per pixel of the original (1.0 unless :func:`decode` was
            asked to ``reduce_to`` a JPEG; then 1/2, 1/4 or 1/8): a point ``(x, y)`` of
            ``rgb`` is ``(x / scale, y / scale)`` in the original.
    """

    rgb: npt.NDArray[np.uint8] = field(repr=False, compare=False)
    frames: tuple[npt.NDArray[np.uint8], ...] = field(repr=False, compare=False)
    format: str
    width: int
    height: int
    exif: dict[str, Any] = field(compare=False)
    sha256: str
    size: int
    n_frames: int = 1
    name: str = ""
    scale: float = 1.0

    @classmethod
    def from_array(cls, rgb: npt.NDArray[np.uint8], *, name: str = "") -> DecodedImage:
        """Wrap an in-memory ``H x W x 3`` (or ``H x W``) ``uint8`` array (tests, benchmarks).

        The digest is taken over the raw pixel bytes, since there are no file bytes.
        """
        arr = np.asarray(rgb)
        if arr.dtype != np.uint8:
            raise DecodeError(f"{name or 'array'}: expected uint8 pixels, got {arr.dtype}")
        if arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise DecodeError(f"{name or 'array'}: expected H x W x 3, got {arr.shape}")
        arr = np.ascontiguousarray(arr)
        return cls(
            rgb=arr,
            frames=(arr,),
            format="ARRAY",
            width=int(arr.shape[1]),
            height=int(arr.shape[0]),
            exif={},
            sha256=hashlib.sha256(arr.tobytes()).hexdigest(),
            size=arr.nbytes,
            name=name,
        )


def sniff(data: bytes) -> str | None:
    """Name the format of ``data`` from its first bytes, or ``None`` if unknown.

    Covers the formats :func:`decode` accepts plus SVG; WebP, HEIF and AVIF are
    recognised from their RIFF / ISO-BMFF ``ftyp`` headers.
    """
    for magic, fmt in _MAGIC:
        if data.startswith(magic):
            return fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"avif", b"avis"):
            return "AVIF"
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"heim", b"heis"):
            return "HEIF"
    head = data[:4096].lstrip(b"\xef\xbb\xbf")
    if _SVG_RE.match(head):
        return "SVG"
    return None


def decode(
    data: bytes,
    *,
    max_pixels: int,
    name: str = "",
    max_frames: int = DEFAULT_MAX_FRAMES,
    reduce_to: int | None = None,
) -> DecodedImage:
    """Decode image bytes into normalised RGB.

    Args:
        data: The raw bytes of the file or HTTP body.
        max_pixels: Refuse images whose header declares more pixels than this (per frame),
            before decoding them (decompression bombs, absurd dimensions).
        name: A label for error messages (path or URL).
        max_frames: How many evenly spaced frames to keep from an animated image.
        reduce_to: Only for callers that shrink the image anyway (matching): decode a
            JPEG (or MPO) at the smallest of 1/2, 1/4 or 1/8 scale whose longest side is
            still at least ``reduce_to`` pixels, recorded in ``DecodedImage.scale``
            (``width``/``height`` stay the original's). Other formats, and JPEGs smaller
            than twice ``reduce_to``, decode in full. Evidence, overlays and registration
            need full pixels and leave it ``None``.

    Returns:
        The decoded image and the facts about its bytes.

    Raises:
        DecodeError: Empty, truncated, non-image, unsupported or oversized input; the
            message names the input and the reason.
    """
    label = name or "<bytes>"
    if reduce_to is not None and reduce_to < 1:
        raise ValueError(f"reduce_to must be a positive number of pixels, got {reduce_to}")
    if not data:
        raise DecodeError(f"{label}: empty file (zero bytes)")
    fmt = sniff(data)
    if fmt is None:
        raise DecodeError(f"{label}: not an image (unrecognised content, {len(data)} bytes)")
    if fmt == "SVG":
        return _decode_svg(data, max_pixels=max_pixels, name=name)
    digest = hashlib.sha256(data).hexdigest()
    with warnings.catch_warnings():
        # Our own pixel limit replaces Pillow's global one; its warning must not escape
        # (callers run with warnings as errors) and its hard limit is caught below.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        # Pillow warns (UserWarning) about corruption it tolerates, e.g. "Corrupt EXIF
        # data" or "Tag data larger than file" in TIFF (TiffImagePlugin); the outcome is
        # what counts here: a decoded image or a DecodeError, never a warning that a
        # caller running with warnings as errors would see as a crash.
        warnings.simplefilter("ignore", UserWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as e:
            raise DecodeError(f"{label}: decompression bomb refused ({e})") from e
        except UnidentifiedImageError as e:
            raise DecodeError(f"{label}: {fmt} data that no decoder accepts") from e
        except _CORRUPT as e:
            raise DecodeError(f"{label}: unreadable {fmt} header ({e})") from e
        with img:
            if img.format not in _ALLOWED_FORMATS:
                raise DecodeError(f"{label}: unsupported format {img.format}")
            w, h = img.size
            if w <= 0 or h <= 0:
                raise DecodeError(f"{label}: invalid dimensions {w}x{h}")
            if w * h > max_pixels:
                raise DecodeError(
                    f"{label}: decompression bomb refused: {w}x{h} = {w * h} pixels "
                    f"exceeds the limit of {max_pixels}"
                )
            exif = _exif_dict(img)
            scale = 1.0
            try:
                if reduce_to is not None and img.format in ("JPEG", "MPO"):
                    scale = _draft(img, reduce_to)
                # A TIFF counts its frames by walking every IFD: a broken one raises here.
                n_frames = int(getattr(img, "n_frames", 1) or 1)
                frames = _read_frames(img, n_frames, max_frames)
            except Image.DecompressionBombError as e:
                raise DecodeError(f"{label}: decompression bomb refused ({e})") from e
            except _CORRUPT as e:
                raise DecodeError(f"{label}: truncated or corrupt {fmt} data ({e})") from e
    first = frames[0]
    width, height = int(first.shape[1]), int(first.shape[0])
    if scale != 1.0:
        # The original's size as shown: the header's, swapped when the EXIF orientation
        # transposes (5-8: the ones ``ImageOps.exif_transpose`` turns by 90 degrees).
        width, height = (h, w) if exif.get("Orientation") in (5, 6, 7, 8) else (w, h)
    return DecodedImage(
        rgb=first,
        frames=frames,
        format=fmt if img.format != "MPO" else "JPEG",
        width=width,
        height=height,
        exif=exif,
        sha256=digest,
        size=len(data),
        n_frames=n_frames,
        name=name,
        scale=scale,
    )


def _draft(img: Image.Image, reduce_to: int) -> float:
    """Have libjpeg decode ``img`` at 1/2, 1/4 or 1/8 scale, the smallest whose longest
    side is still >= ``reduce_to``; returns the scale (1.0: full size).

    Pillow's ``JpegImageFile.draft`` picks the largest 1/s (s in 8, 4, 2, 1) with
    ``width // s >= asked width`` and ``height // s >= asked height``; asking ``reduce_to``
    for the longest side and the other in proportion (rounded down, so its bound is never
    the tighter one but for a strip thinner than the scale, which is then reduced less)
    gives s <= longest / reduce_to, so the decoded longest side, ceil(longest / s), stays
    >= ``reduce_to``. The scale is read from the box ``draft`` returns (the
    original's coordinates within the reduced image, as Pillow documents).
    """
    w, h = img.size
    longest = max(w, h)
    if longest < 2 * reduce_to:
        return 1.0  # not even 1/2 keeps the size asked for
    ask = (max(1, w * reduce_to // longest), max(1, h * reduce_to // longest))
    drafted = img.draft("RGB", ask)
    if drafted is None:
        return 1.0  # already loaded or several tiles: Pillow decodes in full
    _, box = drafted
    return float(box[2]) / w


def _read_frames(
    img: Image.Image, n_frames: int, max_frames: int
) -> tuple[npt.NDArray[np.uint8], ...]:
    if n_frames <= 1 or img.format in ("JPEG", "MPO", "TIFF"):
        # MPO/TIFF secondary frames are previews or pages, not animation.
        img.load()
        return (_to_rgb(ImageOps.exif_transpose(img)),)
    picks = sorted(set(np.linspace(0, n_frames - 1, max(1, max_frames)).round().astype(int)))
    out = []
    for i in picks:
        img.seek(int(i))
        img.load()
        out.append(_to_rgb(img))
    return tuple(out)


def _to_rgb(img: Image.Image) -> npt.NDArray[np.uint8]:
    """Normalise any Pillow mode to 8-bit RGB, alpha composited over white."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # Pillow's convert("L") clips 16-bit values instead of scaling them.
        arr = np.asarray(img).astype(np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        grey = np.clip(arr * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB", "1") and "transparency" in img.info
    )
    if has_alpha:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba).convert("RGB")
    elif mode != "RGB":
        img = img.convert("RGB")
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def _exif_dict(img: Image.Image) -> dict[str, Any]:
    """EXIF tags (IFD0 and the Exif sub-IFD) by name, as JSON-safe values."""
    try:
        exif = img.getexif()
    except Exception:  # malformed EXIF must not stop decoding
        return {}
    out: dict[str, Any] = {}
    items = list(exif.items())
    with contextlib.suppress(Exception):  # a broken Exif sub-IFD: keep IFD0
        items += list(exif.get_ifd(ExifTags.IFD.Exif).items())
    for tag, value in items:
        if tag in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo, ExifTags.IFD.Interop):
            continue
        key = ExifTags.TAGS.get(tag, f"0x{tag:04x}")
        safe = _json_safe(value)
        if safe is not None:
            out[key] = safe
    return out


def _json_safe(value: Any, depth: int = 0) -> Any:
    if depth > 3:
        return None
    if isinstance(value, bool | int | str):
        return value.replace("\x00", "").strip() if isinstance(value, str) else value
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, bytes):
        return value[:64].hex()
    if isinstance(value, tuple | list):
        return [_json_safe(v, depth + 1) for v in value[:32]]
    try:  # IFDRational and friends
        f = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return str(value)[:200]
    return f if np.isfinite(f) else None


def _decode_svg(data: bytes, *, max_pixels: int, name: str) -> DecodedImage:
    label = name or "<bytes>"
    try:
        import cairosvg  # type: ignore[import-not-found, unused-ignore]
    except ImportError as e:
        raise DecodeError(
            f"{label}: SVG needs a rasteriser (install cairosvg to match vector images)"
        ) from e
    try:
        png = cairosvg.svg2png(bytestring=data, unsafe=False)
    except Exception as e:  # cairosvg raises many kinds
        raise DecodeError(f"{label}: SVG could not be rasterised ({e})") from e
    raster = decode(png, max_pixels=max_pixels, name=name)
    return DecodedImage(
        rgb=raster.rgb,
        frames=raster.frames,
        format="SVG",
        width=raster.width,
        height=raster.height,
        exif={},
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        name=name,
    )
