"""The evaluation set for the matcher: real photos shipped inside wheels and seeded edits.

Photos come only from files bundled in installed wheels (no network): scikit-image
``skimage.data`` (the images in the wheel, not the pooch-downloaded ones), scikit-learn
``load_sample_images``, matplotlib's ``sample_data`` and PyWavelets' ``pywt.data``.
Every edit draws its parameters from a ``numpy`` generator seeded from the photo and the
edit name, so a run is reproducible.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

RGB = npt.NDArray[np.uint8]


def _rgb(a: npt.NDArray[np.generic]) -> RGB:
    a = np.asarray(a)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    if a.dtype != np.uint8:
        a = np.clip(a * (255.0 if a.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.shape[2] == 4:
        alpha = a[:, :, 3:4].astype(np.float32) / 255.0
        a = (a[:, :, :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(a[:, :, :3])


def load_photos() -> dict[str, RGB]:
    """Every usable photo, by a short name. Fails loudly if one needs the network."""
    import matplotlib
    import pywt.data
    import skimage.data as sk
    from sklearn.datasets import load_sample_images

    photos: dict[str, RGB] = {}
    for name in (
        "astronaut",
        "camera",
        "chelsea",
        "coffee",
        "coins",
        "clock",
        "colorwheel",
        "rocket",
        "hubble_deep_field",
        "immunohistochemistry",
        "retina",
        "moon",
        "page",
        "brick",
        "grass",
        "gravel",
        "cell",
        "text",
        "logo",
    ):
        photos[name] = _rgb(getattr(sk, name)())
    left, right, _disp = sk.stereo_motorcycle()
    photos["motorcycle_left"] = _rgb(left)
    photos["motorcycle_right"] = _rgb(right)
    china, flower = load_sample_images().images
    photos["china"] = _rgb(china)
    photos["flower"] = _rgb(flower)
    sample = os.path.join(matplotlib.get_data_path(), "sample_data")
    photos["grace_hopper"] = _rgb(np.asarray(Image.open(os.path.join(sample, "grace_hopper.jpg"))))
    photos["minduka"] = _rgb(
        np.asarray(
            Image.open(os.path.join(sample, "Minduka_Present_Blue_Pack.png")).convert("RGBA")
        )
    )
    photos["aero"] = _rgb(pywt.data.aero())
    photos["ascent"] = _rgb(pywt.data.ascent())
    return photos


#: Registered works. ``flower_left`` is the left half of ``flower``; its right half is a
#: same-scene negative, as is ``motorcycle_right`` for ``motorcycle_left``.
REGISTERED = (
    "astronaut",
    "camera",
    "chelsea",
    "coffee",
    "clock",
    "colorwheel",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "moon",
    "page",
    "grass",
    "china",
    "grace_hopper",
    "aero",
    "ascent",
    "motorcycle_left",
    "flower_left",
)
QUICK_REGISTERED = ("astronaut", "chelsea", "clock", "colorwheel", "coffee", "motorcycle_left")
#: Never registered: queried as they are and with edits; also composite backgrounds.
UNREGISTERED = ("coins", "brick", "gravel", "cell", "text", "logo", "minduka")
SAME_SCENE = {"motorcycle_right": "motorcycle_left", "flower_right": "flower_left"}
BACKGROUNDS = ("coins", "brick", "gravel", "cell", "text", "minduka")


def prepare(photos: dict[str, RGB]) -> dict[str, RGB]:
    """Add the two halves of the wide ``flower`` photo (non-overlapping, 40 px gap)."""
    f = photos["flower"]
    w = f.shape[1]
    photos = dict(photos)
    photos["flower_left"] = np.ascontiguousarray(f[:, : w // 2 - 20])
    photos["flower_right"] = np.ascontiguousarray(f[:, w // 2 + 20 :])
    return photos


def rng_for(*parts: str) -> np.random.Generator:
    seed = int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:8], "big")
    return np.random.default_rng(seed)


# --- edits -------------------------------------------------------------------------------


def _pil(a: RGB) -> Image.Image:
    return Image.fromarray(a)


def _np(im: Image.Image) -> RGB:
    return np.ascontiguousarray(np.asarray(im.convert("RGB")))


def resize(a: RGB, f: float) -> RGB:
    h, w = a.shape[:2]
    return _np(_pil(a).resize((max(8, round(w * f)), max(8, round(h * f))), Image.LANCZOS))


def thumbnail(a: RGB, side: int) -> RGB:
    im = _pil(a)
    im.thumbnail((side, side), Image.LANCZOS)
    return _np(im)


def recompress(a: RGB, fmt: str, q: int) -> RGB:
    buf = io.BytesIO()
    _pil(a).save(buf, format=fmt, quality=q)
    return _np(Image.open(io.BytesIO(buf.getvalue())))


def crop(a: RGB, frac: float, rng: np.random.Generator | None) -> RGB:
    h, w = a.shape[:2]
    ch, cw = round(h * frac), round(w * frac)
    if rng is None:
        y, x = (h - ch) // 2, (w - cw) // 2
    else:
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return np.ascontiguousarray(a[y : y + ch, x : x + cw])


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def watermark_text(a: RGB, rng: np.random.Generator) -> RGB:
    im = _pil(a).convert("RGBA")
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    size = max(12, im.size[0] // 12)
    text = "© stockphotos.example"
    for i in range(4):
        y = int((i + 0.5) * im.size[1] / 4) - size // 2
        d.text(
            (int(rng.integers(0, max(1, im.size[0] // 4))), y),
            text,
            font=_font(size),
            fill=(255, 255, 255, 150),
        )
    return _np(Image.alpha_composite(im, layer))


def watermark_logo(a: RGB, rng: np.random.Generator) -> RGB:
    im = _pil(a).convert("RGBA")
    side = max(16, min(im.size) // 4)
    logo = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    d = ImageDraw.Draw(logo)
    d.ellipse((0, 0, side - 1, side - 1), fill=(200, 30, 30, 200))
    d.text((side // 5, side // 3), "LOGO", font=_font(side // 4), fill=(255, 255, 255, 230))
    corner = int(rng.integers(0, 4))
    x = 8 if corner % 2 == 0 else im.size[0] - side - 8
    y = 8 if corner < 2 else im.size[1] - side - 8
    im.alpha_composite(logo, (x, y))
    return _np(im)


def enhance(a: RGB, kind: str, f: float) -> RGB:
    cls = {"brightness": ImageEnhance.Brightness, "contrast": ImageEnhance.Contrast}[kind]
    return _np(cls(_pil(a)).enhance(f))


def gamma(a: RGB, g: float) -> RGB:
    lut = np.clip(255.0 * (np.arange(256) / 255.0) ** g + 0.5, 0, 255).astype(np.uint8)
    return lut[a]


def hue(a: RGB, shift: int) -> RGB:
    hsv = cv2.cvtColor(a, cv2.COLOR_RGB2HSV)
    hsv[:, :, 0] = ((hsv[:, :, 0].astype(np.int32) + shift) % 180).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def blur(a: RGB, r: float) -> RGB:
    return _np(_pil(a).filter(ImageFilter.GaussianBlur(r)))


def sharpen(a: RGB) -> RGB:
    return _np(_pil(a).filter(ImageFilter.UnsharpMask(radius=2, percent=150, threshold=3)))


def noise(a: RGB, sigma: float, rng: np.random.Generator) -> RGB:
    n = rng.normal(0, sigma, a.shape)
    return np.clip(a.astype(np.float64) + n, 0, 255).astype(np.uint8)


def greyscale(a: RGB) -> RGB:
    return _np(_pil(a).convert("L"))


def sepia(a: RGB) -> RGB:
    m = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])
    return np.clip(a.astype(np.float64) @ m.T, 0, 255).astype(np.uint8)


def mirror(a: RGB) -> RGB:
    return np.ascontiguousarray(a[:, ::-1])


def rotate(a: RGB, deg: float) -> RGB:
    return _np(_pil(a).rotate(deg, resample=Image.BICUBIC, expand=True, fillcolor=(255, 255, 255)))


def rot90(a: RGB, k: int) -> RGB:
    return np.ascontiguousarray(np.rot90(a, k))


def perspective(a: RGB, rng: np.random.Generator, amount: float = 0.08) -> RGB:
    h, w = a.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    jit = rng.uniform(0, amount, (4, 2)) * np.float32([w, h])
    dst = src + jit * np.float32([[1, 1], [-1, 1], [-1, -1], [1, -1]])
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    return cv2.warpPerspective(a, m, (w, h), borderValue=(255, 255, 255))


def letterbox(a: RGB) -> RGB:
    h, w = a.shape[:2]
    tw = max(w, round(h * 16 / 9))
    th = max(h, round(tw * 9 / 16))
    out = np.zeros((th, tw, 3), np.uint8)
    y, x = (th - h) // 2, (tw - w) // 2
    out[y : y + h, x : x + w] = a
    return out


def border(a: RGB, rng: np.random.Generator) -> RGB:
    h, w = a.shape[:2]
    b = max(4, round(0.08 * max(h, w)))
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    out = np.empty((h + 2 * b, w + 2 * b, 3), np.uint8)
    out[:] = colour
    out[b : b + h, b : b + w] = a
    return out


def screenshot(a: RGB, rng: np.random.Generator) -> RGB:
    """The photo inside a fake browser window: tab bar, URL bar, page text and margins."""
    h, w = a.shape[:2]
    pw, ph = round(w * 1.5), round(h * 1.45) + 90
    page = Image.new("RGB", (pw, ph), (250, 250, 250))
    d = ImageDraw.Draw(page)
    d.rectangle((0, 0, pw, 36), fill=(222, 225, 230))
    d.rectangle((0, 36, pw, 72), fill=(245, 246, 247))
    d.rounded_rectangle((60, 42, pw - 60, 66), radius=10, fill=(255, 255, 255))
    d.text((72, 46), "https://blog.example/post/123", font=_font(14), fill=(60, 60, 60))
    d.text((20, 8), "Blog post - Browser", font=_font(14), fill=(30, 30, 30))
    x0 = int(rng.integers(10, pw - w - 10))
    d.text((x0, 84), "An interesting article title", font=_font(22), fill=(20, 20, 20))
    y0 = 120
    page.paste(_pil(a), (x0, y0))
    for i in range(6):
        y = y0 + h + 12 + 20 * i
        if y < ph - 16:
            d.text(
                (x0, y),
                "Lorem ipsum dolor sit amet, consectetur",
                font=_font(14),
                fill=(70, 70, 70),
            )
    return _np(page)


def embed(a: RGB, frac: float, rng: np.random.Generator, backgrounds: list[RGB]) -> RGB:
    """Paste ``a`` scaled to ``frac`` of a collage's width into a collage of other photos."""
    cw, ch = 1000, 700
    canvas = Image.new("RGB", (cw, ch), (255, 255, 255))
    order = rng.permutation(len(backgrounds))
    tiles = [(0, 0), (cw // 2, 0), (0, ch // 2), (cw // 2, ch // 2)]
    for (tx, ty), i in zip(tiles, order, strict=False):
        bg = _pil(backgrounds[int(i)]).resize((cw // 2, ch // 2), Image.LANCZOS)
        canvas.paste(bg, (tx, ty))
    tw = round(cw * frac)
    th = round(a.shape[0] * tw / a.shape[1])
    if th > ch * 0.9:
        th = round(ch * 0.9)
        tw = round(a.shape[1] * th / a.shape[0])
    x = int(rng.integers(0, cw - tw + 1))
    y = int(rng.integers(0, ch - th + 1))
    canvas.paste(_pil(a).resize((tw, th), Image.LANCZOS), (x, y))
    return _np(canvas)


@dataclass(frozen=True)
class Edit:
    family: str
    name: str
    fn: Callable[[RGB, np.random.Generator, list[RGB]], RGB]


def _e(family: str, name: str, fn: Callable[[RGB, np.random.Generator, list[RGB]], RGB]) -> Edit:
    return Edit(family=family, name=name, fn=fn)


EDITS: tuple[Edit, ...] = (
    _e("resize", "half", lambda a, r, b: resize(a, 0.5)),
    _e("resize", "up1.5", lambda a, r, b: resize(a, 1.5)),
    _e("resize", "thumb160", lambda a, r, b: thumbnail(a, 160)),
    _e("jpeg/webp", "jpeg30", lambda a, r, b: recompress(a, "JPEG", 30)),
    _e("jpeg/webp", "jpeg60", lambda a, r, b: recompress(a, "JPEG", 60)),
    _e("jpeg/webp", "webp40", lambda a, r, b: recompress(a, "WEBP", 40)),
    _e("crop 90-60%", "c90", lambda a, r, b: crop(a, 0.9, None)),
    _e("crop 90-60%", "c75off", lambda a, r, b: crop(a, 0.75, r)),
    _e("crop 90-60%", "c60", lambda a, r, b: crop(a, 0.6, None)),
    _e("crop 90-60%", "c60off", lambda a, r, b: crop(a, 0.6, r)),
    _e("crop 50-40%", "c50", lambda a, r, b: crop(a, 0.5, None)),
    _e("crop 50-40%", "c50off", lambda a, r, b: crop(a, 0.5, r)),
    _e("crop 50-40%", "c40", lambda a, r, b: crop(a, 0.4, None)),
    _e("crop 50-40%", "c40off", lambda a, r, b: crop(a, 0.4, r)),
    _e("watermark", "text", lambda a, r, b: watermark_text(a, r)),
    _e("watermark", "logo", lambda a, r, b: watermark_logo(a, r)),
    _e("colour", "bright+", lambda a, r, b: enhance(a, "brightness", 1.35)),
    _e("colour", "bright-", lambda a, r, b: enhance(a, "brightness", 0.7)),
    _e("colour", "contrast", lambda a, r, b: enhance(a, "contrast", 1.5)),
    _e("colour", "gamma", lambda a, r, b: gamma(a, 0.6)),
    _e("colour", "hue", lambda a, r, b: hue(a, 40)),
    _e("colour", "grey", lambda a, r, b: greyscale(a)),
    _e("colour", "sepia", lambda a, r, b: sepia(a)),
    _e("filter", "blur", lambda a, r, b: blur(a, 2.0)),
    _e("filter", "sharpen", lambda a, r, b: sharpen(a)),
    _e("filter", "noise", lambda a, r, b: noise(a, 12.0, r)),
    _e("mirror", "mirror", lambda a, r, b: mirror(a)),
    _e("rotate ≤15°", "rot5", lambda a, r, b: rotate(a, 5)),
    _e("rotate ≤15°", "rot-15", lambda a, r, b: rotate(a, -15)),
    _e("rotate 90°", "rot90", lambda a, r, b: rot90(a, 1)),
    _e("rotate 90°", "rot180", lambda a, r, b: rot90(a, 2)),
    _e("perspective", "persp", lambda a, r, b: perspective(a, r)),
    _e("framing", "letterbox", lambda a, r, b: letterbox(a)),
    _e("framing", "border", lambda a, r, b: border(a, r)),
    _e("framing", "screenshot", lambda a, r, b: screenshot(a, r)),
    _e("embed 30-50%", "emb30", lambda a, r, b: embed(a, 0.3, r, b)),
    _e("embed 30-50%", "emb40", lambda a, r, b: embed(a, 0.4, r, b)),
    _e("embed 30-50%", "emb50", lambda a, r, b: embed(a, 0.5, r, b)),
    _e("combo", "crop70+jpeg40", lambda a, r, b: recompress(crop(a, 0.7, r), "JPEG", 40)),
    _e("combo", "mirror+half", lambda a, r, b: resize(mirror(a), 0.5)),
    _e("combo", "text+crop80", lambda a, r, b: watermark_text(crop(a, 0.8, r), r)),
    _e("combo", "emb40+jpeg50", lambda a, r, b: recompress(embed(a, 0.4, r, b), "JPEG", 50)),
    _e("combo", "rot10+bright", lambda a, r, b: enhance(rotate(a, 10), "brightness", 1.2)),
    _e("combo", "grey+border", lambda a, r, b: border(greyscale(a), r)),
    _e("combo", "mirror+crop60", lambda a, r, b: crop(mirror(a), 0.6, r)),
)

#: Edits applied to unregistered photos (negatives must survive the same treatment).
NEGATIVE_EDITS = ("half", "jpeg60", "c60off", "text", "mirror", "rot5", "border", "emb40")


# --- pictures that pad a catalogue to 100 works (match_negatives.py, crawl.py --works) ---


def shapes(seed: int) -> RGB:
    """Coloured flat shapes on white (``skimage.draw.random_shapes``): the kind of picture
    a ``binary_blobs`` pattern was once falsely matched to (seed 41 reproduces it)."""
    from skimage.draw import random_shapes

    img, _ = random_shapes(
        (480, 640), max_shapes=12, min_size=30, max_size=200, rng=seed, channel_axis=-1
    )
    return np.ascontiguousarray(img)


def textured(seed: int) -> RGB:
    """A 640x480 colour texture: seeded noise smoothed at two random scales, summed."""
    rng = np.random.default_rng(10_000 + seed)
    out = np.zeros((480, 640, 3), np.float32)
    for _ in range(2):
        noise = rng.normal(0, 1, (480, 640, 3)).astype(np.float32)
        blurred = cv2.GaussianBlur(noise, (0, 0), float(rng.uniform(1.5, 12)))
        out += blurred / max(1e-6, float(blurred.std()))
    out = (out - out.mean()) / max(1e-6, float(out.std())) * 45 + 128
    return np.clip(out, 0, 255).astype(np.uint8)


#: Shapes pictures among the 100 works (the rest of the 81 are textures): few, because
#: random_shapes draws the same primitives in the same colours, and copies of one picture
#: then match a shape of another (reported by crawl.py --works when it happens).
CATALOGUE_SHAPES = (41, 3, 7, 12, 19, 25)


def catalogue(photos: dict[str, RGB], n: int = 100) -> dict[str, RGB]:
    """The registered photos, then shapes and textures, ``n`` works in all."""
    out = {w: photos[w] for w in REGISTERED}
    for s in CATALOGUE_SHAPES:
        out[f"shapes{s}"] = shapes(s)
    i = 0
    while len(out) < n:
        out[f"texture{i}"] = textured(i)
        i += 1
    return dict(list(out.items())[:n])


def put_work(store: Any, name: str, rgb: RGB, cfg: Any) -> Any:
    """Fingerprint ``rgb`` and put it in ``store`` (an ``InMemoryStore``) with its colours,
    as the workspace registers a work and reads its colours from the kept original; returns
    the fingerprint (to index)."""
    from copyseal.match import DecodedImage, fingerprint, work_colour

    image = DecodedImage.from_array(rgb)
    fp = fingerprint(image, config=cfg)
    store.put(name, fp, colour=work_colour(image, fp))
    return fp
