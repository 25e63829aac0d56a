"""The images a re-visit looks at: a capture's inlined ``data:`` URI images (real photos)."""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from copyseal.capture import Capture
from copyseal.capture.result import Artefact
from copyseal.revisit._page import page_images


def _jpeg(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=85)
    return out.getvalue()


def _capture(folder: Path, files: dict[str, str]) -> Capture:
    """A capture folder holding ``files`` (role -> HTML text), and no WARC."""
    artefacts = []
    for role, text in files.items():
        data = text.encode()
        (folder / f"{role}.html").write_bytes(data)
        artefacts.append(
            Artefact(
                path=f"{role}.html",
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                media_type="text/html",
                role=role,
            )
        )
    now = datetime.now(UTC)
    return Capture(
        capture_id="c",
        url="http://127.0.0.1:8000/page.html",
        final_url="http://127.0.0.1:8000/page.html",
        folder=folder,
        started_at=now,
        finished_at=now,
        artefacts=tuple(artefacts),
    )


def _uri(data: bytes, media_type: str = "image/jpeg") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def test_data_uri_images_are_read_from_the_dom_each_once_named_as_the_crawl_names_them(
    tmp_path: Path, photos: dict[str, np.ndarray]
) -> None:
    coffee = _jpeg(photos["coffee"][::4, ::4])
    rocket = _jpeg(photos["rocket"][::4, ::4])
    dom = (
        f'<html><body><img src="{_uri(coffee)}"><img src="{_uri(coffee)}">'
        f"<div style=\"background-image:url('{_uri(rocket)}')\"></div>"
        f'<img src="{_uri(b"plain text, not an image", "image/png")}">'
        '<img src="data:image/png;base64,%%%"><img src="/img/elsewhere.jpg"></body></html>'
    )
    # The served HTML had no inline image: a script inserted them, so only the DOM has them.
    capture = _capture(tmp_path, {"raw-html": "<html><body></body></html>", "dom": dom})
    found = list(page_images(capture, max_bytes=10_000_000))
    assert found == [
        (f"data:image/jpeg;sha256={hashlib.sha256(coffee).hexdigest()}", coffee),
        (f"data:image/jpeg;sha256={hashlib.sha256(rocket).hexdigest()}", rocket),
    ]
    small, large = sorted(found, key=lambda f: len(f[1]))
    assert list(page_images(capture, max_bytes=len(large[1]) - 1)) == [small]


def test_without_a_dom_the_served_html_is_read(
    tmp_path: Path, photos: dict[str, np.ndarray]
) -> None:
    coffee = _jpeg(photos["coffee"][::4, ::4])
    capture = _capture(tmp_path, {"raw-html": f'<img src="{_uri(coffee)}">'})
    assert [d for _, d in page_images(capture, max_bytes=10_000_000)] == [coffee]
    assert list(page_images(_capture(tmp_path, {}), max_bytes=10_000_000)) == []
