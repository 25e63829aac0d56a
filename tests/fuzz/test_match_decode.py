"""Fuzzing image decoding: hostile bytes in, a decoded image or a ``DecodeError`` out.

``copyseal.match.decode`` is the one door every downloaded image passes; its contract is
that corrupt, truncated, non-image, unsupported or oversized input raises
:class:`~copyseal.errors.DecodeError` naming the input, and nothing else escapes. The
seeds are a real photograph (scikit-image's astronaut, cropped small so each example is
cheap) encoded in every accepted format and in the shapes the decoder normalises (EXIF
orientation, 16-bit, palette with transparency, CMYK, animation); the fuzzer flips,
truncates, splices and overwrites their bytes, and patches header integers with huge
values (absurd dimensions, decompression bombs).
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
import skimage.data
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image

from copyseal.errors import DecodeError
from copyseal.match import decode

from .budget import fuzz

MAX_PIXELS = 1 << 20  # 1 Mpx: every seed is far below, a patched header often far above


def _seeds() -> dict[str, bytes]:
    photo = Image.fromarray(skimage.data.astronaut()[100:164:2, 180:260:2])  # 32 x 40
    out: dict[str, bytes] = {}

    def save(name: str, img: Image.Image, fmt: str, **kw: object) -> None:
        buf = io.BytesIO()
        img.save(buf, format=fmt, **kw)
        out[name] = buf.getvalue()

    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° CW
    exif[0x010F] = "copyseal fuzz"
    save("jpeg", photo, "JPEG", quality=80, exif=exif.tobytes())
    save("jpeg-progressive", photo, "JPEG", progressive=True)
    save("jpeg-cmyk", photo.convert("CMYK"), "JPEG")
    save("png", photo, "PNG")
    save("png-rgba", photo.convert("RGBA"), "PNG")
    save("png-16", Image.fromarray(np.asarray(photo.convert("L")).astype(np.uint16) * 257), "PNG")
    pal = photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    save("png-palette-transparent", pal, "PNG", transparency=0)
    frames = [photo, photo.rotate(90), photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    save("gif-animated", frames[0], "GIF", save_all=True, append_images=frames[1:], loop=0)
    save("webp", photo, "WEBP", quality=70)
    save("webp-animated", frames[0], "WEBP", save_all=True, append_images=frames[1:])
    save("tiff", photo, "TIFF")
    save("tiff-deflate", photo, "TIFF", compression="tiff_adobe_deflate")
    save("tiff-pages", frames[0], "TIFF", save_all=True, append_images=frames[1:])
    save("bmp", photo, "BMP")
    with_alpha = photo.convert("RGBA")
    save("png-apng", with_alpha, "PNG", save_all=True, append_images=[with_alpha.rotate(45)])
    return out


SEEDS = _seeds()
NAMES = sorted(SEEDS)


def _patch_int(data: bytes, at: int, value: int, width: int) -> bytes:
    at = min(at, max(0, len(data) - width))
    packed = (value & ((1 << 8 * width) - 1)).to_bytes(width, "big" if at % 2 else "little")
    return data[:at] + packed + data[at + width :]


_op = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 16), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 16), st.just(0)),
    st.tuples(st.just("delete"), st.integers(0, 1 << 16), st.integers(1, 64)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 16), st.binary(min_size=1, max_size=32)),
    st.tuples(
        st.just("int"),
        st.integers(0, 512),  # headers live near the start
        st.sampled_from([0, 1, 0x7FFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF, 65500]),
    ),
)


def _mutate(data: bytes, ops: list[tuple[str, int, object]]) -> bytes:
    for kind, pos, arg in ops:
        if not data:
            break
        at = pos % len(data)
        if kind == "flip":
            assert isinstance(arg, int)
            data = data[:at] + bytes([data[at] ^ arg]) + data[at + 1 :]
        elif kind == "truncate":
            data = data[:at]
        elif kind == "delete":
            assert isinstance(arg, int)
            data = data[:at] + data[at + arg :]
        elif kind == "insert":
            assert isinstance(arg, bytes)
            data = data[:at] + arg + data[at:]
        else:
            assert isinstance(arg, int)
            data = _patch_int(data, at, arg, 4 if at % 3 else 2)
    return data


def _decodes_or_refuses(data: bytes) -> None:
    try:
        img = decode(data, max_pixels=MAX_PIXELS, name="fuzz.bin")
    except DecodeError as e:
        assert str(e).startswith("fuzz.bin: "), e  # names the input
        return
    assert img.rgb.dtype == np.uint8 and img.rgb.ndim == 3 and img.rgb.shape[2] == 3
    assert img.width * img.height <= MAX_PIXELS
    assert img.frames[0] is img.rgb


@pytest.mark.parametrize("name", NAMES)
def test_every_seed_decodes(name: str) -> None:
    img = decode(SEEDS[name], max_pixels=MAX_PIXELS, name=name)
    assert img.width * img.height in (32 * 40, 40 * 32)


@fuzz(150)
@given(name=st.sampled_from(NAMES), ops=st.lists(_op, min_size=1, max_size=4))
# Found by this fuzzer: a cut TIFF made Pillow warn "Corrupt EXIF data" (a crash under
# warnings-as-errors) and raise TypeError "Missing dimensions" / KeyError out of decode.
@example(name="tiff", ops=[("truncate", 8, 0)])
@example(name="tiff-pages", ops=[("truncate", 140, 0)])
def test_mutated_images_decode_or_raise_decode_error(
    name: str, ops: list[tuple[str, int, object]]
) -> None:
    _decodes_or_refuses(_mutate(SEEDS[name], ops))


_MAGICS = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"II*\x00", b"MM\x00*", b"BM",
           b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"\x00\x00\x00\x1cftypavif", b"<svg>"]  # fmt: skip


@fuzz(100)
@given(magic=st.sampled_from(_MAGICS), tail=st.binary(max_size=512))
def test_magic_and_random_bytes_raise_decode_error(magic: bytes, tail: bytes) -> None:
    _decodes_or_refuses(magic + tail)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@fuzz(60)
@given(
    width=st.integers(1, 1 << 31 - 1),
    height=st.integers(1, 1 << 31 - 1),
    mode=st.sampled_from([(8, 0), (8, 2), (16, 2), (8, 6), (1, 0), (8, 3)]),
)
def test_png_bombs_and_absurd_dimensions_are_refused(
    width: int, height: int, mode: tuple[int, int]
) -> None:
    depth, colour = mode
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    # A tiny zlib stream of zeros that would expand to many rows: a decompression bomb.
    idat = zlib.compress(b"\x00" * min(1 << 20, width * 8 + 1) * 4, 9)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )
    if width * height > MAX_PIXELS:
        with pytest.raises(DecodeError, match="decompression bomb refused"):
            decode(data, max_pixels=MAX_PIXELS, name="bomb.png")
    else:
        _decodes_or_refuses(data)
