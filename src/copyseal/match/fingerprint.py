"""The fingerprint of a registered work and its compact, deterministic byte form.

A :class:`WorkFingerprint` holds everything the matcher needs about a work, so that the
original file is never re-read at match time:

* pHashes of the whole image and of centred windows (candidate retrieval, and the
  evidence for low-texture works);
* ORB keypoints and descriptors (Rublee et al., "ORB: an efficient alternative to SIFT
  or SURF", ICCV 2011), spread over the image, for geometric verification;
* a small greyscale thumbnail (lossless PNG) for the photometric check after alignment.

``to_bytes()`` is a fixed little-endian layout (no pickle), so equal fingerprints give
equal bytes and :meth:`WorkFingerprint.digest` can be recorded in the ledger.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from functools import cached_property

import cv2
import numpy as np
import numpy.typing as npt

from copyseal.errors import MatchError
from copyseal.match.hashes import ImageHash

__all__ = ["FORMAT_VERSION", "WindowHash", "WorkFingerprint"]

#: Bump when the layout or the way fingerprints are computed changes.
FORMAT_VERSION = 1
_MAGIC = b"CSFP"
_HEADER = struct.Struct("<4sHIIHHHHI")  # magic, version, w, h, ww, wh, n_hash, hash_bytes, n_kp
_WINDOW = struct.Struct("<HHHH")  # window in 1/10000 of the working frame


@dataclass(frozen=True, kw_only=True, slots=True)
class WindowHash:
    """The pHash of one window of a work.

    Attributes:
        window: ``(x0, y0, x1, y1)`` in units of 1/10000 of the work's width and height
            (integers, so serialisation is exact).
        hash: The window's perceptual hash.
    """

    window: tuple[int, int, int, int]
    hash: ImageHash


@dataclass(frozen=True, kw_only=True, eq=False)
class WorkFingerprint:
    """Everything the matcher keeps about one work.

    Attributes:
        width: Width of the original image in pixels (after EXIF orientation).
        height: Height of the original image.
        work_size: ``(w, h)`` of the working image the keypoints refer to.
        hashes: Window hashes; the first is the whole image.
        points: ``N x 2`` ``float32`` keypoint positions in working pixels.
        descriptors: ``N x 32`` ``uint8`` ORB descriptors, same order as ``points``
            (strongest and best spread first).
        thumbnail_png: Greyscale thumbnail, PNG-encoded (for the photometric check).
    """

    width: int
    height: int
    work_size: tuple[int, int]
    hashes: tuple[WindowHash, ...]
    points: npt.NDArray[np.float32] = field(repr=False)
    descriptors: npt.NDArray[np.uint8] = field(repr=False)
    thumbnail_png: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.hashes:
            raise MatchError("a fingerprint needs at least the whole-image hash")
        n = len(self.points)
        if self.points.shape != (n, 2) or self.descriptors.shape != (n, 32):
            raise MatchError(
                f"fingerprint arrays disagree: points {self.points.shape}, "
                f"descriptors {self.descriptors.shape}"
            )
        object.__setattr__(self, "points", np.ascontiguousarray(self.points, dtype="<f4"))
        object.__setattr__(self, "descriptors", np.ascontiguousarray(self.descriptors, np.uint8))

    @property
    def global_hash(self) -> ImageHash:
        """pHash of the whole image."""
        return self.hashes[0].hash

    @cached_property
    def thumbnail(self) -> npt.NDArray[np.uint8]:
        """The decoded greyscale thumbnail (``H x W`` ``uint8``)."""
        buf = np.frombuffer(self.thumbnail_png, dtype=np.uint8)
        img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise MatchError("fingerprint thumbnail is not a readable PNG")
        return np.asarray(img, dtype=np.uint8)

    def to_bytes(self) -> bytes:
        """The canonical byte form (deterministic; ``from_bytes(fp.to_bytes()) == fp``)."""
        hash_bytes = len(self.hashes[0].hash.data)
        parts = [
            _HEADER.pack(
                _MAGIC,
                FORMAT_VERSION,
                self.width,
                self.height,
                self.work_size[0],
                self.work_size[1],
                len(self.hashes),
                hash_bytes,
                len(self.points),
            )
        ]
        for wh in self.hashes:
            if len(wh.hash.data) != hash_bytes:
                raise MatchError("all window hashes of a fingerprint must have one length")
            parts.append(_WINDOW.pack(*wh.window))
            parts.append(wh.hash.data)
        parts.append(self.points.astype("<f4").tobytes())
        parts.append(self.descriptors.tobytes())
        parts.append(struct.pack("<I", len(self.thumbnail_png)))
        parts.append(self.thumbnail_png)
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> WorkFingerprint:
        """Parse :meth:`to_bytes` output.

        Raises:
            MatchError: The bytes are not a fingerprint of this format version.
        """
        try:
            return cls._parse(memoryview(data))
        except (struct.error, ValueError) as e:
            raise MatchError(f"malformed fingerprint bytes ({e})") from e

    @classmethod
    def _parse(cls, buf: memoryview) -> WorkFingerprint:
        magic, version, w, h, ww, wh, n_hash, hash_bytes, n_kp = _HEADER.unpack_from(buf, 0)
        if magic != _MAGIC:
            raise ValueError("bad magic")
        if version != FORMAT_VERSION:
            raise ValueError(f"format version {version}, expected {FORMAT_VERSION}")
        off = _HEADER.size
        hashes = []
        for _ in range(n_hash):
            window = _WINDOW.unpack_from(buf, off)
            off += _WINDOW.size
            data = bytes(buf[off : off + hash_bytes])
            if len(data) != hash_bytes:
                raise ValueError("truncated hashes")
            off += hash_bytes
            hashes.append(WindowHash(window=window, hash=ImageHash(data=data)))
        points = np.frombuffer(buf, dtype="<f4", count=2 * n_kp, offset=off).reshape(n_kp, 2)
        off += 8 * n_kp
        desc = np.frombuffer(buf, dtype=np.uint8, count=32 * n_kp, offset=off).reshape(n_kp, 32)
        off += 32 * n_kp
        (n_png,) = struct.unpack_from("<I", buf, off)
        off += 4
        png = bytes(buf[off : off + n_png])
        if len(png) != n_png or off + n_png != len(buf):
            raise ValueError("length mismatch at the thumbnail")
        return cls(
            width=w,
            height=h,
            work_size=(ww, wh),
            hashes=tuple(hashes),
            points=points.copy(),
            descriptors=desc.copy(),
            thumbnail_png=png,
        )

    def digest(self) -> str:
        """SHA-256 hex digest of :meth:`to_bytes` (recorded in the ledger)."""
        return hashlib.sha256(self.to_bytes()).hexdigest()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WorkFingerprint):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.digest())
