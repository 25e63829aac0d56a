"""Rights metadata through the stages: registration stores it, the crawl's matcher
pipeline, the stored match listings, the bundle's match report and the PDF carry it."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyexiv2
from PIL import Image

from copyseal.crawl._jobs import MatchRecord
from copyseal.crawl._pipelines import MatchPipeline
from copyseal.db.schema.works import Work
from copyseal.export._pdf import _rights_text
from copyseal.match.rights import RightsMetadata, read_rights
from copyseal.pipeline._evidence import _rights
from copyseal.registry import WorkRecord, build_matcher, register_paths, stored_rights
from copyseal.workspace import Workspace


def _original(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=92)
    image = pyexiv2.ImageData(buf.getvalue())
    try:
        image.modify_exif({"Exif.Image.Copyright": "© Jane Doe"})
        image.modify_xmp({"Xmp.dc.creator": ["Jane Doe"]})
        return bytes(image.get_bytes())
    finally:
        image.close()


def _stripped(data: bytes) -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(data)).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def test_crawl_pipeline_compares_each_match_with_the_registered_work(
    workspace: Workspace, tmp_path: Path, photos: dict[str, np.ndarray]
) -> None:
    path = tmp_path / "work.jpg"
    path.write_bytes(_original(photos["rocket"]))
    (record,) = list(register_paths(workspace, [path], owner="Jane"))
    assert isinstance(record, WorkRecord)
    assert record.rights_metadata is not None
    assert record.rights_metadata["fields"]["exif:Copyright"] == "© Jane Doe"
    assert stored_rights(workspace.engine)[record.work_id] == RightsMetadata.from_json(
        record.rights_metadata
    )

    ctx = SimpleNamespace(
        store=SimpleNamespace(engine=workspace.engine), settings=workspace.settings
    )
    pipeline = MatchPipeline(ctx, build_matcher)  # type: ignore[arg-type]
    pipeline.open_spider()
    try:
        outcome = pipeline._match(_stripped(path.read_bytes()))
        kept = pipeline._match(path.read_bytes())
    finally:
        pipeline.close_spider()
    assert isinstance(outcome, list) and outcome[0]["work_id"] == record.work_id
    report = outcome[0]["rights_metadata"]
    assert report["c2pa"] == "absent"
    assert {k: f["status"] for k, f in report["fields"].items()} == {
        "exif:Copyright": "removed",
        "xmp:dc:creator": "removed",
    }
    assert isinstance(kept, list)
    assert {f["status"] for f in kept[0]["rights_metadata"]["fields"].values()} == {"kept"}


def test_stored_matches_carry_the_report() -> None:
    report = {"fields": {"exif:Artist": {"status": "removed", "original": "A", "found": None}}}
    record = MatchRecord(
        match_id=1,
        job_id="j",
        page_url="https://a.example/",
        image_url="https://a.example/i.jpg",
        work_id="w1",
        score=0.9,
        location={},
        detail={"method": "exact-sha256", "rights_metadata": report},
        found_at=datetime(2026, 12, 5, tzinfo=UTC),
    )
    assert record.to_json()["rights_metadata"] == report
    older = MatchRecord(**{**record.__dict__, "detail": {"method": "exact-sha256"}})
    assert older.to_json()["rights_metadata"] is None


def test_bundle_report_reads_the_captured_bytes(photos: dict[str, np.ndarray]) -> None:
    data = _original(photos["chelsea"])
    work = Work(rights_metadata=json.dumps(read_rights(data).to_json()))
    kept = _rights(work, data)
    assert kept is not None
    assert {f["status"] for f in kept["fields"].values()} == {"kept"}
    removed = _rights(work, _stripped(data))
    assert removed is not None
    assert removed["fields"]["xmp:dc:creator"] == {
        "status": "removed",
        "original": "Jane Doe",
        "found": None,
    }
    assert _rights(Work(rights_metadata=None), data) is None


def test_pdf_row_names_what_was_removed_and_altered() -> None:
    text = _rights_text(
        {
            "fields": {
                "exif:Artist": {"status": "removed", "original": "Jane", "found": None},
                "xmp:dc:rights": {"status": "altered", "original": "© Jane", "found": "CC0"},
                "iptc:Credit": {"status": "kept", "original": "J", "found": "J"},
            },
            "c2pa": "removed",
        }
    )
    assert text == (
        "exif:Artist removed (was 'Jane'); xmp:dc:rights altered ('© Jane' to 'CC0');"
        " 1 field(s) kept; C2PA manifest: removed"
    )
    assert _rights_text(None).startswith("not compared")
