"""The case export carries the timeline: case.json has each site's record, and the PDF
report a timeline section ("in use from … to …, seen N times, removed on … after a notice
sent on …") with words never split across lines; its pages render (pypdfium2)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pypdf
import pypdfium2
import pytest
from sqlalchemy.orm import Session

from copyseal.db.schema.record import MatchVisit
from copyseal.export import export_case
from copyseal.notices import load_sender, mark_sent, write_notice
from copyseal.review.cases import create_case
from copyseal.review.decisions import decide
from copyseal.review.queue import queue
from copyseal.times import now
from copyseal.workspace import Workspace

from .conftest import W

pytestmark = pytest.mark.browser  # the shared world is crawled and captured with Chromium


@pytest.fixture(scope="module")
def exported(world: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    """A case of the 127.0.0.1 matches, re-visited, noticed and removed, then exported."""
    folder = tmp_path_factory.mktemp("export-timeline")
    ws: Workspace = W.copy_workspace(world, folder / "ws")
    rita, lars = W.user(ws, "rita"), W.user(ws, "lars")
    items = [i for i in queue(ws).items if i.site == "127.0.0.1"]
    for item in items:
        decide(ws, rita, match_id=item.match_id, decision="confirmed")
    case = create_case(ws, lars, title="Harbour shop", match_ids=[i.match_id for i in items])
    (folder / "sender.yaml").write_text(
        "name: Jane Doe\naddress: 1 Quay\nemail: jane@example.org\n", encoding="utf-8"
    )
    notice = write_notice(
        ws, case.case_id, kind="dmca", sender=load_sender(folder / "sender.yaml"),
        out=folder / "notice.txt", created_by="lars",
    )  # fmt: skip
    # A re-visit's bundle: any sealed bundle of the world that is not the case's own.
    revisit_bundle = next(i.bundle_id for i in queue(ws).items if i.site == "localhost")
    sent_at = now()
    mark_sent(ws, case.case_id, to="abuse@127.0.0.1", at=sent_at, notice_id=notice.notice_id)
    with Session(ws.engine) as s, s.begin():
        for item in items:
            s.add_all(
                [
                    MatchVisit(
                        match_id=item.match_id, page_url=item.page_url,
                        visited_at=sent_at + timedelta(days=1), result="present",
                        similarity=0.99, bundle_id=revisit_bundle, ledger_index=9001,
                    ),
                    MatchVisit(
                        match_id=item.match_id, page_url=item.page_url,
                        visited_at=sent_at + timedelta(days=2, hours=2), result="removed",
                    ),
                ]
            )  # fmt: skip
    result = export_case(ws, case.case_id, out=folder / "case.zip", exported_by="lars")
    with zipfile.ZipFile(result.path) as zf:
        members = {i.filename.split("/", 1)[1]: zf.read(i) for i in zf.infolist()}
    yield members, notice, revisit_bundle
    ws.close()


def test_case_json_has_the_timeline(exported: Any) -> None:
    members, notice, revisit_bundle = exported
    doc = json.loads(members["case.json"])
    (site,) = doc["timeline"]
    assert site["site"] == "127.0.0.1"
    assert site["removed_on"] is not None
    assert [n["notice_id"] for n in site["notices"]] == [notice.notice_id]
    assert site["notices"][0]["removed_days_after"] == 2
    assert {m["match_id"] for m in site["matches"]} == {m["match_id"] for m in doc["matches"]}
    for m in site["matches"]:
        assert [v["result"] for v in m["visits"]] == ["present", "present", "removed"]
        assert m["visits"][1]["bundle_id"] == revisit_bundle
    # The re-visit's bundle is in the package, listed with its hash like the others.
    assert f"bundles/{revisit_bundle}.zip" in members
    assert revisit_bundle in {b["bundle_id"] for b in doc["bundles"]}


def _text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_report_has_the_timeline_section(exported: Any) -> None:
    members, notice, _ = exported
    flat = " ".join(_text(members["report.pdf"]).split())
    assert "Timeline of the use" in flat
    found = re.search(
        r"127\.0\.0\.1: in use from (\d{4}-\d\d-\d\d) to (\d{4}-\d\d-\d\d) \(\d+ days?\), seen"
        r" (\d+) times, removed on (\d{4}-\d\d-\d\d), 2 days after a notice sent on"
        r" (\d{4}-\d\d-\d\d)\.",
        flat,
    )
    assert found is not None, flat[:2000]
    assert notice.notice_id in flat and notice.sha256 in flat.replace(" ", "")


def test_report_never_splits_a_word(exported: Any) -> None:
    members, _, _ = exported
    flat = " ".join(_text(members["report.pdf"]).split())
    for sentence in (
        "Every finding below was captured and sealed in a signed evidence bundle anchored"
        " in an append-only Merkle ledger, then confirmed by a person.",
        "Each event is a statement in the ledger: the registration of the work, the sealed"
        " capture of the page, each review decision, each re-visit of the page and each"
        " notice sent, and the export of this package",
    ):
        assert sentence in flat


def test_chain_of_custody_lists_the_revisits_and_the_notice(exported: Any) -> None:
    members, notice, revisit_bundle = exported
    flat = " ".join(_text(members["report.pdf"]).split())
    custody = flat[flat.index("Chain of custody") :]
    assert f"ledger entry 9001 - present - bundle {revisit_bundle}" in custody
    sent = re.search(r"Notice sent \S+ \S+ UTC - ledger entry (\d+) - dmca notice (\S+)", custody)
    assert sent is not None, custody[:3000]
    assert sent.group(2) == notice.notice_id
    # The re-visit without a statement (the removed one here) is not claimed as one.
    assert custody.count("ledger entry 9001") == custody.count("Re-visit")


def test_report_pages_render(exported: Any, tmp_path: Path) -> None:
    members, _, _ = exported
    doc = pypdfium2.PdfDocument(members["report.pdf"])
    try:
        assert len(doc) >= 4
        for n in range(len(doc)):
            image = doc[n].render(scale=0.5).to_pil().convert("L")
            lo, hi = image.getextrema()
            assert lo < 100 and hi > 200, f"page {n + 1} is blank"
            if n == 1:
                image.save(tmp_path / "timeline-page.png")
    finally:
        doc.close()
    assert (tmp_path / "timeline-page.png").stat().st_size > 1000
