"""Rights metadata end to end: ``copyseal register`` reads it, ``copyseal match --json``
reports each copy's fields kept, altered or removed (the real command, a new process)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyexiv2
from PIL import Image

from .conftest import Run


def _tagged(pixels: np.ndarray, artist: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=92)
    image = pyexiv2.ImageData(buf.getvalue())
    try:
        image.modify_exif({"Exif.Image.Artist": artist, "Exif.Image.Copyright": "© Jane Doe"})
        image.modify_iptc({"Iptc.Application2.Credit": "Doe Photo"})
        image.modify_xmp({"Xmp.xmpRights.WebStatement": "https://doe.example/licence"})
        return bytes(image.get_bytes())
    finally:
        image.close()


def test_register_then_match_reports_kept_altered_removed(
    run: Run, tmp_path: Path, photos: dict[str, np.ndarray]
) -> None:
    ws = tmp_path / "ws"
    assert run("init", str(ws)).returncode == 0
    cfg = ["--config", str(ws / "config.yaml")]
    original = tmp_path / "original.jpg"
    original.write_bytes(_tagged(photos["chelsea"], "Jane Doe"))

    done = run(*cfg, "register", str(original), "--owner", "Jane", "--json")
    assert done.returncode == 0, done.stderr
    registered = json.loads(done.stdout)[0]
    assert registered["rights_metadata"]["fields"] == {
        "exif:Artist": "Jane Doe",
        "exif:Copyright": "© Jane Doe",
        "iptc:Credit": "Doe Photo",
        "xmp:xmpRights:WebStatement": "https://doe.example/licence",
    }
    listed = json.loads(run(*cfg, "works", "--json").stdout)
    assert listed[0]["rights_metadata"] == registered["rights_metadata"]

    altered = tmp_path / "altered.jpg"
    image = pyexiv2.ImageData(original.read_bytes())
    image.modify_exif({"Exif.Image.Artist": "Someone Else"})
    altered.write_bytes(bytes(image.get_bytes()))
    image.close()
    stripped = tmp_path / "stripped.jpg"
    Image.open(original).save(stripped, "JPEG", quality=85)  # Pillow keeps no metadata

    done = run(*cfg, "match", str(original), str(altered), str(stripped), "--json")
    assert done.returncode == 0, done.stderr
    results = {Path(r["query"]).stem: r["matches"][0] for r in json.loads(done.stdout)}
    statuses = {
        stem: {k: f["status"] for k, f in m["rights_metadata"]["fields"].items()}
        for stem, m in results.items()
    }
    assert set(statuses["original"].values()) == {"kept"}
    assert statuses["altered"]["exif:Artist"] == "altered"
    assert results["altered"]["rights_metadata"]["fields"]["exif:Artist"]["found"] == (
        "Someone Else"
    )
    assert statuses["altered"]["iptc:Credit"] == "kept"
    assert set(statuses["stripped"].values()) == {"removed"}
    assert all(m["rights_metadata"]["c2pa"] == "absent" for m in results.values())
