"""Takedown notices from a case (rows and ledger entries as a crawl, sealing and review
leave them; SQLite and PostgreSQL): each kind carries the elements its law requires, the
file is written whole and hashed, sending it is logged in
the ledger with that hash, and the timeline shows it."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from copyseal.cli import main
from copyseal.db.models import Work
from copyseal.db.schema.anchors import ANCHOR_RECORDS
from copyseal.db.schema.bundle import EvidenceBundle
from copyseal.db.schema.crawl import CrawlMatch
from copyseal.db.schema.record import MatchVisit
from copyseal.ledger import statements
from copyseal.notices import (
    NoticeError,
    list_notices,
    load_sender,
    mark_sent,
    notice_path,
    write_notice,
)
from copyseal.timeline import site_timeline
from copyseal.times import now
from copyseal.workspace import Workspace

SENDER = """\
name: Jane Doe
address: |
  12 Harbour Lane
  Bristol BS1 4AB, United Kingdom
email: jane@example.org
phone: "+44 117 000 0000"
"""


PAGES = (
    "https://127.0.0.1/shop/harbour.html",
    "https://127.0.0.1/shop/search?q=boats&page=2",
)


def _seed_case(ws: Workspace) -> Any:
    """Two works registered in the ledger, two sealed captures (ledger entries too), their
    matches on 127.0.0.1 in one case: the rows a crawl, sealing and review leave."""
    from copyseal.db.schema.crawl import CrawlJob
    from copyseal.db.schema.review import Case, CaseMatch

    ledger = ws.ledger()
    at = now() - timedelta(days=10)
    titles = ("Harbour at dawn", "Boats")
    shas = [hashlib.sha256(t.encode()).hexdigest() for t in titles]
    work_entries = ledger.append(
        [
            (
                statements.WORK_REGISTRATION,
                statements.work_registration(
                    work_id=f"w{n}", owner="Jane Doe", title=title, original_sha256=sha,
                    fingerprints_digest=sha, time=at,
                ),
            )
            for n, (title, sha) in enumerate(zip(titles, shas, strict=True))
        ]
    )  # fmt: skip
    manifests = [json.dumps({"page_url": page, "n": n}).encode() for n, page in enumerate(PAGES)]
    bundle_entries = ledger.append([(statements.EVIDENCE_BUNDLE, m) for m in manifests])
    with Session(ws.engine) as s, s.begin():
        s.add(
            CrawlJob(
                job_id="job1", target="t", spider="site", render=False, status="finished",
                spec="{}", created_at=at,
            )
        )  # fmt: skip
        for n, title in enumerate(titles):
            s.add(
                Work(
                    work_id=f"w{n}", sha256=shas[n], size=1, width=1, height=1, format="JPEG",
                    owner="Jane Doe", title=title, registered_at=at, ledger_index=work_entries[n],
                )
            )  # fmt: skip
        s.flush()
        match_ids = []
        for n, page in enumerate(PAGES):
            s.add(
                EvidenceBundle(
                    bundle_id=f"bundle{n}", page_url=page, job_id="job1", path=f"/b{n}",
                    manifest_sha256=hashlib.sha256(manifests[n]).hexdigest(),
                    leaf_hash="d" * 64, ledger_index=bundle_entries[n],
                    captured_at=at + timedelta(hours=n), created_at=at,
                )
            )  # fmt: skip
            s.flush()
            row = CrawlMatch(
                job_id="job1", page_key=f"p{n}", image_key=f"i{n}", page_url=page,
                image_url=f"https://127.0.0.1/img/{n}.jpg", work_id=f"w{n}", score=0.9,
                image_sha256="b" * 64, location="{}", detail="{}", found_at=at,
                bundle_id=f"bundle{n}",
            )  # fmt: skip
            s.add(row)
            s.flush()
            match_ids.append(row.id)
        s.add(Case(case_id="case-1", title="Harbour shop", domain="127.0.0.1", created_by="lars",
                   created_at=at))  # fmt: skip
        s.flush()
        s.add_all(CaseMatch(case_id="case-1", match_id=m, added_at=at) for m in match_ids)
    from copyseal.review.cases import get_case

    return get_case(ws, "case-1")


@pytest.fixture
def case(workspace: Workspace, tmp_path: Path) -> tuple[Workspace, Any, Path]:
    """A case on each database, and a sender file."""
    (tmp_path / "sender.yaml").write_text(SENDER, encoding="utf-8")
    return workspace, _seed_case(workspace), tmp_path


def _facts(ws: Workspace, case_id: str) -> tuple[list[Any], list[Any], list[Any]]:
    from copyseal.db.schema.review import CaseMatch

    with Session(ws.engine) as s:
        ids = list(s.scalars(select(CaseMatch.match_id).where(CaseMatch.case_id == case_id)))
        matches = [s.get(CrawlMatch, i) for i in ids]
        bundles = [s.get(EvidenceBundle, m.bundle_id) for m in matches if m is not None]
        works = [s.get(Work, m.work_id) for m in matches if m is not None]
        return matches, bundles, works


def _common(text: str, ws: Workspace, case_id: str) -> None:
    """What every kind states: each work with its registration, each URL with its capture
    time and bundle hash, the sender."""
    matches, bundles, works = _facts(ws, case_id)
    assert matches and bundles and works
    for m in matches:
        assert m.image_url in text and m.page_url in text
    for b in bundles:
        assert b.manifest_sha256 in text and b.bundle_id in text
        assert b.captured_at.strftime("%Y-%m-%d %H:%M:%S UTC") in text
    for w in works:
        assert w.sha256 in text and f'"{w.title}"' in text
        assert f"entry {w.ledger_index}" in text
        # The registration receipt (C2SP tlog-proof) is in the appendix.
        assert f"Work {w.work_id} (ledger entry {w.ledger_index}):" in text
    assert "c2sp.org/tlog-proof@v1" in text
    for part in ("Jane Doe", "jane@example.org", "12 Harbour Lane", "Bristol BS1 4AB"):
        assert part in text


def _unwrapped(text: str) -> str:
    return " ".join(text.split())


def test_dmca_notice_has_every_element_of_512c3(case: Any) -> None:
    ws, record, folder = case
    out = folder / "dmca.txt"
    notice = write_notice(
        ws, record.case_id, kind="dmca", sender=load_sender(folder / "sender.yaml"), out=out,
        created_by="lars",
    )  # fmt: skip
    data = out.read_bytes()
    assert notice.sha256 == hashlib.sha256(data).hexdigest() and notice.size == len(data)
    assert notice_path(ws, notice).read_bytes() == data  # the kept copy
    text = data.decode("utf-8")
    _common(text, ws, record.case_id)
    flat = _unwrapped(text)
    for element in ("(i)", "(ii)", "(iii)", "(iv)", "(v)", "(vi)"):
        assert f"17 U.S.C. §512(c)(3)(A){element}]" in flat
    assert (
        "I have a good faith belief that use of the material in the manner complained of"
        " is not authorized by the copyright owner, its agent, or the law." in flat
    )
    assert (
        "the information in this notification is accurate, and, under penalty of perjury,"
        " that I am authorized to act on behalf of Jane Doe, the owner of an exclusive"
        " right that is allegedly infringed." in flat
    )
    assert "/Jane Doe/" in text  # the electronic signature
    assert "Telephone: +44 117 000 0000" in text
    assert notice.sent_at is None and notice.kind == "dmca"


def test_eu_dsa_notice_has_every_element_of_article_16(case: Any) -> None:
    ws, record, folder = case
    out = folder / "dsa.txt"
    sender = load_sender(folder / "sender.yaml")
    write_notice(ws, record.case_id, kind="eu-dsa", sender=sender, out=out, created_by="lars")
    text = out.read_text("utf-8")
    _common(text, ws, record.case_id)
    flat = _unwrapped(text)
    for element in ("(a)", "(b)", "(c)", "(d)"):
        assert f"Regulation (EU) 2022/2065, art. 16(2){element}]" in flat
    assert "Substantiated explanation of why the content is illegal" in flat
    assert "without the rights holder's authorisation" in flat
    assert "Exact electronic location of the content (URLs)" in flat
    assert "Name and email address of the notifier" in flat
    assert (
        "I confirm my bona fide belief that the information and allegations contained in"
        " this notice are accurate and complete." in flat
    )


def test_generic_notice_and_bad_input(case: Any) -> None:
    ws, record, folder = case
    sender = load_sender(folder / "sender.yaml")
    out = folder / "generic.txt"
    write_notice(ws, record.case_id, kind="generic", sender=sender, out=out, created_by="lars")
    text = out.read_text("utf-8")
    _common(text, ws, record.case_id)
    assert "good faith belief" in text and "Please remove them" in text
    with pytest.raises(NoticeError, match="exists already"):
        write_notice(ws, record.case_id, kind="generic", sender=sender, out=out, created_by="l")
    with pytest.raises(NoticeError, match="unknown notice kind 'letter'"):
        write_notice(
            ws, record.case_id, kind="letter", sender=sender, out=folder / "x", created_by="l"
        )
    bad = folder / "bad-sender.yaml"
    bad.write_text("name: Jane Doe\naddress: somewhere\n", encoding="utf-8")
    with pytest.raises(NoticeError, match=rf"sender file {re.escape(str(bad))}: missing email"):
        load_sender(bad)
    bad.write_text("name: Jane\naddress: x\nemail: jane\n", encoding="utf-8")
    with pytest.raises(NoticeError, match="is not an address"):
        load_sender(bad)
    bad.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(NoticeError, match="must be a mapping"):
        load_sender(bad)
    with pytest.raises(NoticeError, match="cannot be read"):
        load_sender(folder / "missing.yaml")


def test_notice_sent_is_logged_and_shown_in_the_timeline(case: Any) -> None:
    ws, record, folder = case
    sender = load_sender(folder / "sender.yaml")
    write_notice(
        ws, record.case_id, kind="dmca", sender=sender, out=folder / "s1.txt", created_by="l"
    )
    write_notice(
        ws, record.case_id, kind="dmca", sender=sender, out=folder / "s2.txt", created_by="l"
    )
    unsent = [n for n in list_notices(ws, record.case_id) if n.sent_at is None]
    assert len(unsent) >= 2
    with pytest.raises(NoticeError, match="unsent notices"):
        mark_sent(ws, record.case_id, to="abuse@127.0.0.1", at=now())
    chosen = unsent[0]
    with pytest.raises(NoticeError, match="before notice"):
        mark_sent(
            ws,
            record.case_id,
            to="x",
            at=chosen.created_at - timedelta(days=1),
            notice_id=chosen.notice_id,
        )
    with pytest.raises(NoticeError, match="in the future"):
        mark_sent(
            ws, record.case_id, to="x", at=now() + timedelta(days=1), notice_id=chosen.notice_id
        )
    sent_at = now()
    done = mark_sent(
        ws, record.case_id, to="abuse@127.0.0.1", at=sent_at, notice_id=chosen.notice_id
    )
    assert done.sent_to == "abuse@127.0.0.1" and done.ledger_index is not None
    entry = ws.ledger().entry(done.ledger_index)
    assert entry.entry_type == statements.NOTICE_SENT
    logged = json.loads(entry.data)
    assert logged["notice_sha256"] == chosen.sha256 == done.sha256
    assert logged["notice_id"] == chosen.notice_id and logged["case_id"] == record.case_id
    assert logged["sent_to"] == "abuse@127.0.0.1"
    with pytest.raises(NoticeError, match="already"):
        mark_sent(ws, record.case_id, to="again", at=sent_at, notice_id=chosen.notice_id)
    # The pages are re-visited: the copies are gone 3 days after the notice.
    with Session(ws.engine) as s, s.begin():
        for match_id in record.match_ids:
            s.add(
                MatchVisit(
                    match_id=match_id,
                    page_url="x",
                    visited_at=sent_at + timedelta(days=3, hours=1),
                    result="removed",
                )
            )
    line = site_timeline(ws, "127.0.0.1")
    doc = line.to_json()
    assert [n["notice_id"] for n in doc["notices"]] == [chosen.notice_id]
    assert doc["notices"][0]["removed_days_after"] == 3
    assert doc["removed_on"] is not None
    assert ", 3 days after a notice sent on" in line.summary()


def test_a_use_the_record_shows_ended_is_marked_so_in_the_notice(case: Any) -> None:
    # A notice states what is on the service: a copy a re-visit found removed is listed
    # for the record but not as still shown; a copy seen again is not marked.
    ws, record, folder = case
    first, second = record.match_ids
    with Session(ws.engine) as s, s.begin():
        s.add(MatchVisit(match_id=first, page_url=PAGES[0], visited_at=now(), result="removed"))
        s.add(MatchVisit(match_id=second, page_url=PAGES[1], visited_at=now(), result="present"))
    out = folder / "ended.txt"
    sender = load_sender(folder / "sender.yaml")
    write_notice(ws, record.case_id, kind="dmca", sender=sender, out=out, created_by="l")
    blocks = out.read_text("utf-8").split("Image URL: ")[1:]
    ended = [b for b in blocks if "no longer shown when visited on" in b]
    assert len(ended) == 1 and PAGES[0] in ended[0]
    assert "still in use when last visited" in next(b for b in blocks if PAGES[1] in b)


def test_a_use_that_moved_gives_its_new_location(case: Any) -> None:
    # The host must find the copy where it is now: a re-visit that found the work on
    # another page (moved) names that page, the image and the visit's bundle.
    ws, record, folder = case
    first, second = record.match_ids
    new_page, new_image = PAGES[0] + "?gallery=2", PAGES[0] + "-renamed.jpg"
    with Session(ws.engine) as s, s.begin():
        s.add(
            MatchVisit(
                match_id=first, page_url=PAGES[0], visited_at=now(), result="moved",
                found_page_url=new_page, found_image_url=new_image,
            )
        )  # fmt: skip
        # Seen again where it was: nothing to add.
        s.add(
            MatchVisit(
                match_id=second, page_url=PAGES[1], visited_at=now(), result="present",
                found_page_url=PAGES[1],
            )
        )  # fmt: skip
    out = folder / "moved.txt"
    sender = load_sender(folder / "sender.yaml")
    write_notice(ws, record.case_id, kind="eu-dsa", sender=sender, out=out, created_by="l")
    blocks = out.read_text("utf-8").split("Image URL: ")[1:]
    moved = next(b for b in blocks if f"shown on page: {PAGES[0]}\n" in b)
    assert f"now shown on page: {new_page}" in moved
    assert f"now at image URL: {new_image}" in moved
    stayed = next(b for b in blocks if f"shown on page: {PAGES[1]}\n" in b)
    assert "now shown on page" not in stayed


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
    finally:
        log = logging.getLogger("copyseal")
        for handler in log.handlers:
            handler.close()
        log.handlers.clear()
    out = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), out.out, out.err


def test_cli_notice_notice_sent_and_timeline(case: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ws, record, folder = case
    config = str(ws.settings.source)
    out = folder / "cli-dsa.txt"
    code, stdout, err = _run(
        capsys, "--config", config, "cases", "notice", record.case_id, "--kind", "eu-dsa",
        "--sender-file", str(folder / "sender.yaml"), "--out", str(out), "--json",
    )  # fmt: skip
    assert code == 0, err
    written = json.loads(stdout)
    assert written["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert written["path"] == str(out) and written["kind"] == "eu-dsa"
    # Without --sender-file: sender.yaml beside the configuration, which is missing here.
    code, _, err = _run(
        capsys, "--config", config, "cases", "notice", record.case_id, "--kind", "dmca",
        "--out", str(folder / "none.txt"),
    )  # fmt: skip
    assert code != 0 and "sender.yaml: cannot be read" in err
    # The last anchoring is older than anchors.every_seconds: marking sent anchors again.
    with ws.engine.begin() as conn:
        conn.execute(update(ANCHOR_RECORDS).values(updated_at=now() - timedelta(seconds=601)))
    code, stdout, err = _run(
        capsys, "--config", config, "cases", "notice-sent", record.case_id, "--to",
        "dsa@127.0.0.1", "--at", "now", "--notice", written["notice_id"], "--json",
    )  # fmt: skip
    assert code == 0, err
    sent = json.loads(stdout)
    assert sent["sent_to"] == "dsa@127.0.0.1" and isinstance(sent["ledger_index"], int)
    with ws.engine.connect() as conn:
        sizes = conn.execute(
            select(ANCHOR_RECORDS.c.tree_size).where(ANCHOR_RECORDS.c.kind == "ledger")
        ).scalars()
        assert sent["ledger_index"] + 1 in set(sizes)  # the statement's checkpoint anchored
    code, _, err = _run(
        capsys, "--config", config, "cases", "notice-sent", record.case_id, "--to", "x",
        "--at", "yesterday", "--notice", written["notice_id"],
    )  # fmt: skip
    assert code != 0 and "not an ISO 8601 time" in err
    code, stdout, err = _run(capsys, "--config", config, "timeline", "127.0.0.1", "--json")
    assert code == 0, err
    doc = json.loads(stdout)
    assert set(doc) == {
        "site", "first_seen", "last_seen", "days_in_use", "removed_on", "notices", "matches",
    }  # fmt: skip
    assert written["notice_id"] in {n["notice_id"] for n in doc["notices"]}
    match = doc["matches"][0]
    assert set(match) == {"match_id", "work_id", "page_url", "visits"}
    assert set(match["visits"][0]) == {"at", "result", "bundle_id", "similarity"}
    assert match["visits"][0]["result"] == "present" and match["visits"][0]["bundle_id"]
    code, stdout, err = _run(
        capsys, "--config", config, "timeline", "--match", str(match["match_id"])
    )
    assert code == 0, err
    assert stdout.startswith("127.0.0.1: in use from ")
    code, _, err = _run(capsys, "--config", config, "timeline")
    assert code != 0 and "give a DOMAIN or --match M" in err


def test_a_send_recorded_but_not_logged_is_logged_by_the_next_run(case: Any) -> None:
    """A crash between claiming the notice and appending its statement: the next
    notice-sent logs the recorded address and time, not the new ones."""
    from sqlalchemy import update

    from copyseal.db.schema.record import CaseNotice

    ws, record, folder = case
    sender = load_sender(folder / "sender.yaml")
    notice = write_notice(
        ws, record.case_id, kind="generic", sender=sender, out=folder / "g.txt", created_by="l"
    )
    first = notice.created_at + timedelta(seconds=5)
    with ws.engine.begin() as conn:
        conn.execute(
            update(CaseNotice)
            .where(CaseNotice.notice_id == notice.notice_id)
            .values(sent_to="first@127.0.0.1", sent_at=first)
        )
    size = ws.ledger().size()
    done = mark_sent(ws, record.case_id, to="second@127.0.0.1", at=now())
    assert done.notice_id == notice.notice_id and done.ledger_index == size
    logged = json.loads(ws.ledger().entry(size).data)
    assert logged["sent_to"] == "first@127.0.0.1" == done.sent_to
    assert done.sent_at == first
