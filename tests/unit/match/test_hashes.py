"""The hash value type (property tests) and the DCT pHash (golden values)."""

from __future__ import annotations

import imagehash
import numpy as np
import pytest
import skimage.data
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from copyseal.match._features import to_grey
from copyseal.match.hashes import DIHEDRAL, ImageHash, dihedral_phashes, phash

hashes8 = st.binary(min_size=8, max_size=8).map(lambda b: ImageHash(data=b))


@given(hashes8)
def test_hex_round_trip(h: ImageHash) -> None:
    assert ImageHash.from_hex(h.hex()) == h
    assert len(h.hex()) == 16 and h.nbits == 64


@given(hashes8)
def test_bytes_round_trip(h: ImageHash) -> None:
    assert ImageHash(data=h.to_array().tobytes()) == h


@given(hashes8, hashes8)
def test_distance_is_symmetric_and_bounded(a: ImageHash, b: ImageHash) -> None:
    assert a - b == b - a
    assert 0 <= a - b <= 64
    assert (a - b == 0) == (a == b)


@given(hashes8)
def test_distance_to_self_is_zero(a: ImageHash) -> None:
    assert a - a == 0


@given(hashes8, hashes8, hashes8)
def test_triangle_inequality(a: ImageHash, b: ImageHash, c: ImageHash) -> None:
    assert a - c <= (a - b) + (b - c)


@given(hashes8)
def test_distance_counts_bits(a: ImageHash) -> None:
    flipped = ImageHash(data=bytes([a.data[0] ^ 0b1011]) + a.data[1:])
    assert a - flipped == 3


def test_lengths_must_agree() -> None:
    with pytest.raises(ValueError, match="64-bit and a 256-bit"):
        _ = ImageHash(data=bytes(8)) - ImageHash(data=bytes(32))


def test_empty_hash_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one byte"):
        ImageHash(data=b"")


def test_bad_hex_is_refused() -> None:
    with pytest.raises(ValueError):
        ImageHash.from_hex("xyz")


def test_golden_phash_of_astronaut() -> None:
    # Pinned: a change here changes every stored fingerprint (bump FORMAT_VERSION).
    assert phash(to_grey(skimage.data.astronaut())).hex() == GOLDEN_ASTRONAUT


def test_golden_phash_of_camera() -> None:
    camera = skimage.data.camera()
    assert phash(camera).hex() == GOLDEN_CAMERA


def test_phash_agrees_with_imagehash() -> None:
    """Outside implementation: imagehash's phash (PIL resize, scipy DCT) is within a few
    bits of ours on real photos, and far from other photos."""
    photos = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea()]
    ours = [phash(to_grey(p)) for p in photos]
    theirs = [ImageHash.from_hex(str(imagehash.phash(Image.fromarray(p)))) for p in photos]
    for i, a in enumerate(ours):
        for j, b in enumerate(theirs):
            if i == j:
                assert a - b <= 6
            else:
                assert a - b >= 20


def test_dihedral_hashes_equal_hashes_of_transformed_images() -> None:
    grey = to_grey(skimage.data.chelsea())
    fast = dihedral_phashes(grey)
    for (transpose, flip_rows, flip_cols), h in zip(DIHEDRAL, fast, strict=True):
        img = grey.T if transpose else grey
        if flip_rows:
            img = img[::-1]
        if flip_cols:
            img = img[:, ::-1]
        assert phash(np.ascontiguousarray(img)) - h <= 2
    assert fast[0] == phash(grey)
    assert len(set(fast)) == 8  # the orientations are told apart


GOLDEN_ASTRONAUT = "c2924c5532bddfc8"
GOLDEN_CAMERA = "bff1c1c0434e8cbc"
