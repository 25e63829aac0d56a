"""Basic facts of an image file (format, size, EXIF), refusing what is not a usable image."""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass

from PIL import ExifTags, Image, UnidentifiedImageError

from copyseal.errors import RegistrationError

__all__ = ["ImageFacts", "probe_image"]


@dataclass(frozen=True, kw_only=True)
class ImageFacts:
    format: str
    width: int
    height: int
    exif_json: str


def _json_safe(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex() if len(value) <= 64 else f"<{len(value)} bytes>"
    if isinstance(value, (tuple, list)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (int, str, bool)) or value is None:
        return value
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)


def probe_image(data: bytes, *, max_pixels: int) -> ImageFacts:
    """Identify and fully decode ``data`` (content sniffing; the name is never trusted).

    Raises:
        RegistrationError: empty, not an image, truncated, or over ``max_pixels``.
    """
    if not data:
        raise RegistrationError("empty file (0 bytes)")
    with warnings.catch_warnings():
        # Our own limit (match.max_pixels) is checked below; Pillow's warning is noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if width * height > max_pixels:
                    limit = f"the limit of {max_pixels} (match.max_pixels)"
                    raise RegistrationError(f"{width}x{height} pixels is over {limit}")
                fmt = (img.format or "unknown").upper()
                exif = {
                    ExifTags.TAGS.get(k, str(k)): _json_safe(v) for k, v in img.getexif().items()
                }
                img.load()
        except UnidentifiedImageError as e:
            raise RegistrationError("not a recognised image format") from e
        except Image.DecompressionBombError as e:
            raise RegistrationError(f"refused as a decompression bomb: {e}") from e
        except (OSError, SyntaxError, ValueError) as e:
            raise RegistrationError(f"corrupt or truncated image: {e}") from e
    exif_json = json.dumps(exif, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return ImageFacts(format=fmt, width=width, height=height, exif_json=exif_json)
