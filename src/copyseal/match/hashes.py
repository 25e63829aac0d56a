"""Perceptual hash values and the DCT hash (pHash) used for candidate retrieval.

The hash is the classic DCT perceptual hash (Zauner, "Implementation and Benchmarking of
Perceptual Image Hash Functions", 2010; the variant popularised by imagehash's ``phash``):
luminance reduced to 32 x 32, 2-D DCT-II, the 8 x 8 lowest frequencies thresholded at their
median. It survives resizing, recompression and colour edits but not crops, which is why
the engine also hashes windows and verifies with local features.

Hashing the eight dihedral orientations of a query (flips and 90-degree rotations) needs
only one DCT: flipping an axis multiplies the coefficients of odd frequency along it by -1,
and transposing the image transposes the coefficient block.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["DIHEDRAL", "ImageHash", "dihedral_phashes", "phash"]

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)

#: The eight orientations, as (transpose, flip rows, flip columns) applied in that order to
#: the *query*; index 0 is the identity and index 1 is the horizontal mirror.
DIHEDRAL: tuple[tuple[bool, bool, bool], ...] = (
    (False, False, False),
    (False, False, True),
    (False, True, False),
    (False, True, True),
    (True, False, False),
    (True, False, True),
    (True, True, False),
    (True, True, True),
)


@dataclass(frozen=True, slots=True)
class ImageHash:
    """A binary perceptual hash; ``a - b`` is the Hamming distance.

    Bits are packed most-significant-bit first in row-major order of the frequency block,
    so :meth:`hex` agrees with imagehash's ``str(hash)`` for the same bits.
    """

    data: bytes

    def __post_init__(self) -> None:
        if not self.data:
            raise ValueError("an ImageHash needs at least one byte")

    @property
    def nbits(self) -> int:
        """Length of the hash in bits."""
        return 8 * len(self.data)

    def __sub__(self, other: ImageHash) -> int:
        if not isinstance(other, ImageHash):
            return NotImplemented
        if len(self.data) != len(other.data):
            raise ValueError(f"cannot compare a {self.nbits}-bit and a {other.nbits}-bit hash")
        a = np.frombuffer(self.data, dtype=np.uint8)
        b = np.frombuffer(other.data, dtype=np.uint8)
        return int(_POPCOUNT[a ^ b].sum())

    def hex(self) -> str:
        """Lower-case hexadecimal form (``from_hex(h.hex()) == h``)."""
        return self.data.hex()

    @classmethod
    def from_hex(cls, text: str) -> ImageHash:
        """Parse :meth:`hex` output.

        Raises:
            ValueError: ``text`` is not an even-length hexadecimal string.
        """
        return cls(data=bytes.fromhex(text))

    def to_array(self) -> npt.NDArray[np.uint8]:
        """The packed bytes as a ``uint8`` array (the layout FAISS binary indexes use)."""
        return np.frombuffer(self.data, dtype=np.uint8).copy()

    def __str__(self) -> str:
        return self.hex()


def _dct_block(grey: npt.NDArray[np.uint8], size: int) -> npt.NDArray[np.float32]:
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    coeffs = np.asarray(cv2.dct(small), dtype=np.float32)
    return coeffs[:size, :size]


def _bits(block: npt.NDArray[np.float32]) -> ImageHash:
    flat = block.reshape(-1)
    return ImageHash(data=np.packbits(flat > np.median(flat)).tobytes())


def phash(grey: npt.NDArray[np.uint8], *, size: int = 8) -> ImageHash:
    """The DCT perceptual hash of a greyscale image (``size * size`` bits).

    Args:
        grey: ``H x W`` ``uint8`` luminance.
        size: Side of the low-frequency block kept (8 gives the usual 64 bits).
    """
    return _bits(_dct_block(grey, size))


def dihedral_phashes(grey: npt.NDArray[np.uint8], *, size: int = 8) -> list[ImageHash]:
    """pHash of the eight orientations of ``grey``, in :data:`DIHEDRAL` order.

    Equal (up to resampling) to ``phash`` of each flipped/transposed image, from one DCT.
    """
    block = _dct_block(grey, size)
    sign = np.where(np.arange(size) % 2 == 1, -1.0, 1.0).astype(np.float32)
    out = []
    for transpose, flip_rows, flip_cols in DIHEDRAL:
        b = block.T if transpose else block
        if flip_rows:
            b = b * sign[:, None]
        if flip_cols:
            b = b * sign[None, :]
        out.append(_bits(b))
    return out
