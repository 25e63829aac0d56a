"""Every kind of bad or unusual input: a clear DecodeError or the right pixels."""

from __future__ import annotations

import io
import struct
import sys
import types
import zlib

import numpy as np
import pytest
import skimage.data
from PIL import Image

from copyseal.errors import DecodeError
from copyseal.match.decode import DecodedImage, decode, sniff

LIMIT = 10_000_000


def _encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` (no pixel data to speak of)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def astronaut_jpeg() -> bytes:
    return _encode(Image.fromarray(skimage.data.astronaut()), "JPEG", quality=90)


def test_jpeg_decodes_with_facts(astronaut_jpeg: bytes) -> None:
    img = decode(astronaut_jpeg, max_pixels=LIMIT, name="a.jpg")
    assert (img.format, img.width, img.height) == ("JPEG", 512, 512)
    assert img.rgb.shape == (512, 512, 3) and img.rgb.dtype == np.uint8
    assert img.size == len(astronaut_jpeg)
    assert len(img.sha256) == 64 and img.n_frames == 1 and len(img.frames) == 1
    assert np.abs(img.rgb.astype(int) - skimage.data.astronaut()).mean() < 4


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF", "TIFF", "BMP"])
def test_other_formats_decode(fmt: str) -> None:
    data = _encode(Image.fromarray(skimage.data.chelsea()), fmt)
    img = decode(data, max_pixels=LIMIT)
    assert img.format == fmt
    assert (img.width, img.height) == (451, 300)


def test_zero_bytes() -> None:
    with pytest.raises(DecodeError, match=r"empty\.jpg: empty file \(zero bytes\)"):
        decode(b"", max_pixels=LIMIT, name="empty.jpg")


def test_truncated_jpeg(astronaut_jpeg: bytes) -> None:
    with pytest.raises(DecodeError, match=r"cut\.jpg: truncated or corrupt JPEG"):
        decode(astronaut_jpeg[: len(astronaut_jpeg) // 2], max_pixels=LIMIT, name="cut.jpg")


def test_text_with_an_image_name() -> None:
    with pytest.raises(DecodeError, match=r"notes\.jpg: not an image"):
        decode(b"hello, I am text\n" * 20, max_pixels=LIMIT, name="notes.jpg")


def test_html_error_page_is_not_an_image() -> None:
    with pytest.raises(DecodeError, match="not an image"):
        decode(b"<!doctype html><html><body>404</body></html>", max_pixels=LIMIT)


def test_decompression_bomb_is_refused_before_decoding() -> None:
    # 6000 x 6000 of one colour: a few kB that would decode to 36 MP.
    bomb = _encode(Image.new("L", (6000, 6000), 0), "PNG")
    assert len(bomb) < 100_000
    with pytest.raises(DecodeError, match=r"bomb\.png: decompression bomb refused: 6000x6000"):
        decode(bomb, max_pixels=LIMIT, name="bomb.png")


def test_huge_dimensions_in_a_header() -> None:
    with pytest.raises(DecodeError, match="decompression bomb refused"):
        decode(_png_header(100_000, 100_000), max_pixels=LIMIT, name="huge.png")


def test_pillow_hard_limit_is_converted() -> None:
    # Above Pillow's own hard limit (2 x 89 MP) even with a permissive max_pixels.
    with pytest.raises(DecodeError, match="decompression bomb refused"):
        decode(_png_header(20_000, 20_000), max_pixels=10**12)


def test_pillow_bomb_warning_does_not_escape() -> None:
    # 95 MP: over Pillow's warning threshold, under our limit; no pixel data, so it fails
    # as truncated - and no DecompressionBombWarning escapes (pytest runs -W error).
    with pytest.raises(DecodeError, match="truncated or corrupt PNG"):
        decode(_png_header(9_500, 10_000), max_pixels=100_000_000)


def test_animated_gif_gives_sampled_frames() -> None:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (9, 9, 9)]
    frames = [Image.new("RGB", (40, 30), c) for c in colours]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=50)
    img = decode(buf.getvalue(), max_pixels=LIMIT, max_frames=3)
    assert img.n_frames == 6 and len(img.frames) == 3
    firsts = [tuple(int(v) for v in f[0, 0]) for f in img.frames]
    assert firsts == [(255, 0, 0), (0, 0, 255), (9, 9, 9)]  # frames 0, 2, 5
    assert img.rgb is img.frames[0]


def test_animated_webp_gives_frames() -> None:
    frames = [Image.new("RGB", (32, 32), (i * 60, 0, 0)) for i in range(4)]
    data = _encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    img = decode(data, max_pixels=LIMIT, max_frames=4)
    assert img.format == "WEBP" and len(img.frames) == 4
    assert [int(f[5, 5, 0]) for f in img.frames] == [0, 60, 120, 180]


def test_cmyk_jpeg_becomes_rgb() -> None:
    data = _encode(Image.new("CMYK", (20, 20), (0, 255, 255, 0)), "JPEG", quality=95)
    img = decode(data, max_pixels=LIMIT)
    r, g, b = (int(v) for v in img.rgb[10, 10])
    assert r > 200 and g < 60 and b < 60  # cyan/magenta/yellow ink 0/100/100 % is red


def test_16_bit_png_is_scaled_not_clipped() -> None:
    arr = np.array([[0, 32768, 65535]] * 4, dtype=np.uint16)
    im16 = Image.fromarray(arr)
    assert im16.mode.startswith("I;16")
    data = _encode(im16, "PNG")
    img = decode(data, max_pixels=LIMIT)
    assert img.rgb[0, :, 0].tolist() == [0, 128, 255]


def test_palette_with_transparency_goes_over_white() -> None:
    pal = Image.new("P", (10, 10), 0)
    pal.putpalette([0, 0, 0, 200, 0, 0] + [0] * 762)
    pal.paste(1, (5, 0, 10, 10))
    data = _encode(pal, "PNG", transparency=0)
    img = decode(data, max_pixels=LIMIT)
    assert img.rgb[5, 2].tolist() == [255, 255, 255]  # transparent -> white
    assert img.rgb[5, 7].tolist() == [200, 0, 0]


def test_rgba_alpha_goes_over_white() -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 3] = 0
    rgba[0, 0] = (0, 0, 255, 255)
    img = decode(_encode(Image.fromarray(rgba), "PNG"), max_pixels=LIMIT)
    assert img.rgb[0, 0].tolist() == [0, 0, 255] and img.rgb[3, 3].tolist() == [255, 255, 255]


def test_exif_orientation_is_applied() -> None:
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = (255, 0, 0)  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    exif[0x010F] = "TestCam"
    data = _encode(Image.fromarray(arr), "JPEG", quality=95, exif=exif.tobytes())
    img = decode(data, max_pixels=LIMIT)
    assert (img.width, img.height) == (20, 40)
    assert img.rgb[5, 10, 0] > 200 and img.rgb[35, 10, 0] < 60  # red now on top
    assert img.exif["Make"] == "TestCam" and img.exif["Orientation"] == 6


def test_svg_without_a_rasteriser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cairosvg", None)  # import fails
    svg = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'
    assert sniff(svg) == "SVG"
    with pytest.raises(DecodeError, match=r"logo\.svg: SVG needs a rasteriser"):
        decode(svg, max_pixels=LIMIT, name="logo.svg")


def test_svg_with_a_rasteriser(monkeypatch: pytest.MonkeyPatch) -> None:
    png = _encode(Image.new("RGB", (8, 6), (0, 128, 0)), "PNG")
    fake = types.ModuleType("cairosvg")
    fake.svg2png = lambda bytestring, unsafe: png  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cairosvg", fake)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="6"></svg>'
    img = decode(svg, max_pixels=LIMIT)
    assert img.format == "SVG" and (img.width, img.height) == (8, 6)
    assert img.rgb[0, 0].tolist() == [0, 128, 0]


def test_unsupported_container_is_refused() -> None:
    with pytest.raises(DecodeError, match="not an image"):
        decode(b"%PDF-1.7\n" + b"x" * 100, max_pixels=LIMIT, name="doc.jpg")


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"\xff\xd8\xff\xe0", "JPEG"),
        (b"\x89PNG\r\n\x1a\n", "PNG"),
        (b"GIF89a", "GIF"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WEBP"),
        (b"\x00\x00\x00\x1cftypavif", "AVIF"),
        (b"\x00\x00\x00\x18ftypheic", "HEIF"),
        (b"II*\x00", "TIFF"),
        (b"BM", "BMP"),
        (b"hello", None),
    ],
)
def test_sniff(head: bytes, fmt: str | None) -> None:
    assert sniff(head + b"\x00" * 16) == fmt


def test_from_array_accepts_grey_and_refuses_floats() -> None:
    img = DecodedImage.from_array(np.zeros((3, 5), np.uint8))
    assert img.rgb.shape == (3, 5, 3)
    with pytest.raises(DecodeError, match="expected uint8"):
        DecodedImage.from_array(np.zeros((3, 5), np.float32))  # type: ignore[arg-type]
