"""Rights metadata benchmark: the cost added per match by reading a found copy's rights
fields (EXIF, IPTC, XMP with exiv2; C2PA with the C2PA SDK) and comparing them with the
registered original's.

Run: ``.venv/bin/python benchmarks/rights.py [--repeat 300]``

Each case is a real photograph (scikit-image, scikit-learn) encoded as a found copy would
be: with the full set of rights fields, stripped by a Pillow re-encode, a PNG, a 12-MP
JPEG, and a JPEG whose bytes carry the C2PA label (the SDK is loaded and asked). Times are
per match: ``read_rights`` on the bytes plus ``compare`` with the original's fields.

Target (issue 13): with the licence check, < 2 ms per match.
"""

from __future__ import annotations

import argparse
import io
import logging
import statistics
import time
from collections.abc import Callable

import numpy as np
import pyexiv2
from PIL import Image

from copyseal.match.rights import compare, read_rights

EXIF = {"Exif.Image.Artist": "Ana Núñez", "Exif.Image.Copyright": "© 2026 Ana Núñez"}
IPTC = {
    "Iptc.Application2.Byline": ["Ana Núñez"],
    "Iptc.Application2.Credit": "Núñez Studio",
    "Iptc.Application2.Copyright": "© 2026 Ana Núñez",
}
XMP = {
    "Xmp.dc.creator": ["Ana Núñez"],
    "Xmp.dc.rights": {'lang="x-default"': "© 2026 Ana Núñez"},
    "Xmp.xmpRights.WebStatement": "https://nunez.example/licence",
}


def _encode(pixels: np.ndarray, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _tag(data: bytes) -> bytes:
    image = pyexiv2.ImageData(data)
    try:
        image.modify_exif(EXIF)
        image.modify_iptc(IPTC)
        image.modify_xmp(XMP)
        return bytes(image.get_bytes())
    finally:
        image.close()


def _with_c2pa_label(data: bytes) -> bytes:
    payload = b"JP\x00\x00\x00\x00\x00\x01\x00\x00\x00\x20jumb" + b"c2pa" * 6
    return data[:2] + b"\xff\xeb" + (len(payload) + 2).to_bytes(2, "big") + payload + data[2:]


def _cases() -> dict[str, bytes]:
    import skimage.data
    from sklearn.datasets import load_sample_image

    astronaut = skimage.data.astronaut()
    big = np.asarray(Image.fromarray(load_sample_image("china.jpg")).resize((4000, 3000)))
    tagged = _tag(_encode(astronaut))
    return {
        "jpeg 512x512, all fields": tagged,
        "jpeg 512x512, stripped": _encode(astronaut),
        "png 400x600 (coffee)": _tag(_encode(skimage.data.coffee(), "PNG")),
        "jpeg 4000x3000, all fields": _tag(_encode(big)),
        "jpeg with a C2PA label": _with_c2pa_label(tagged),
    }


def _timed(fn: Callable[[], object], repeat: int) -> list[float]:
    fn()  # warm up (library loading is not per-match cost)
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--repeat", type=int, default=300, help="matches timed per case")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the C2PA case warns on every read, by design
    cases = _cases()
    original = read_rights(cases["jpeg 512x512, all fields"])
    print(f"{'case':32} {'bytes':>10} {'median ms':>10} {'p95 ms':>8} fields c2pa")
    for name, data in cases.items():
        times = _timed(lambda d=data: compare(original, read_rights(d)), args.repeat)
        report = compare(original, read_rights(data))
        kept = sum(f["status"] == "kept" for f in report["fields"].values())
        p95 = statistics.quantiles(times, n=20)[-1]
        print(
            f"{name:32} {len(data):>10} {statistics.median(times):>10.3f} {p95:>8.3f}"
            f" {kept}/{len(report['fields'])} kept {report['c2pa']}"
        )


if __name__ == "__main__":
    main()
