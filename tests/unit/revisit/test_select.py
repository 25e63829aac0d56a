"""Which matches a re-visit follows, and its visit rows and statements (SQLite and
PostgreSQL; no browser)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from copyseal import times
from copyseal.bundle import BundleInfo
from copyseal.crawl import JobSpec
from copyseal.db.schema.crawl import CrawlJob, CrawlMatch
from copyseal.errors import LedgerError, RevisitError
from copyseal.ledger.statements import continued_use, load_statement
from copyseal.registry import WorkRecord, register_paths, remove_work
from copyseal.review import add_user, create_case, decide
from copyseal.revisit import VisitResult, select_uses
from copyseal.workspace import Workspace


def _seed(ws: Workspace, photo_files: dict[str, Path]) -> dict[str, int]:
    """Matches of three works on two sites (one work found twice on one page)."""
    works = {
        str(r.title): r.work_id
        for r in register_paths(
            ws, [photo_files[n] for n in ("astronaut", "coffee", "chelsea")], owner="Jane"
        )
        if isinstance(r, WorkRecord)
    }
    assert len(works) == 3
    rows = {
        "a": ("https://one.example/a.html", "astronaut"),
        "b": ("https://one.example/b.html", "coffee"),
        "c": ("https://two.example/c.html", "chelsea"),
        "a-again": ("https://one.example/a.html", "astronaut"),
    }
    ids = {}
    with Session(ws.engine) as db:
        for job in ("j1", "j2"):
            spec = JobSpec(target="cli", urls=("https://one.example/",))
            db.add(
                CrawlJob(
                    job_id=job,
                    target="cli",
                    spider="site",
                    render=job == "j2",
                    status="finished",
                    spec=spec.dumps(),
                    created_at=times.now(),
                )
            )
        db.flush()
        for name, (page, photo) in rows.items():
            work_id = works[next(t for t in works if t.startswith(photo))]
            row = CrawlMatch(
                job_id="j2" if name == "a-again" else "j1",
                page_key=hashlib.sha256(page.encode()).hexdigest(),
                image_key=hashlib.sha256(name.encode()).hexdigest(),
                page_url=page,
                image_url=page.replace(".html", ".jpg"),
                work_id=work_id,
                score=0.9,
                image_sha256="0" * 64,
                location=json.dumps({"bbox": [1, 2, 3, 4]}),
                detail=json.dumps({"work_id": work_id, "score": 0.9}),
                found_at=times.now(),
            )
            db.add(row)
            db.flush()
            ids[name] = row.id
        db.commit()
    return ids


def test_selection_by_case_site_and_id(workspace: Workspace, photo_files: dict[str, Path]) -> None:
    ids = _seed(workspace, photo_files)
    every = select_uses(workspace)
    # The same work on the same page twice is one use, under its oldest match.
    assert [u.match_id for u in every] == [ids["a"], ids["b"], ids["c"]]
    assert every[0].location["bbox"] == [1, 2, 3, 4] and every[0].report["score"] == 0.9
    assert [u.match_id for u in select_uses(workspace, domains=["two.example"])] == [ids["c"]]
    assert [u.match_id for u in select_uses(workspace, match_ids=[ids["b"]])] == [ids["b"]]
    both = select_uses(workspace, domains=["two.example"], match_ids=[ids["b"]])
    assert [u.match_id for u in both] == [ids["b"], ids["c"]]

    admin = add_user(workspace, name="alice", role="admin", password="alice-admin-pw")
    decide(workspace, admin, match_id=ids["a"], decision="confirmed")
    decide(workspace, admin, match_id=ids["b"], decision="rejected", reason="false-match")
    case = create_case(workspace, admin, title="one.example", match_ids=[ids["a"]])
    assert [u.match_id for u in select_uses(workspace, cases=[case.case_id])] == [ids["a"]]
    # A rejected match is not followed; named by id it is an error that says why.
    assert [u.match_id for u in select_uses(workspace)] == [ids["a"], ids["c"]]
    with pytest.raises(RevisitError, match=f"match {ids['b']}: rejected"):
        select_uses(workspace, match_ids=[ids["b"]])
    # A removed work's matches are not followed either.
    chelsea = select_uses(workspace, match_ids=[ids["c"]])[0].work_id
    remove_work(workspace, chelsea)
    assert [u.match_id for u in select_uses(workspace)] == [ids["a"]]
    with pytest.raises(RevisitError, match="removed from the registry"):
        select_uses(workspace, match_ids=[ids["c"]])


def test_unknown_case_or_match_is_an_error_naming_it(
    workspace: Workspace, photo_files: dict[str, Path]
) -> None:
    _seed(workspace, photo_files)
    with pytest.raises(RevisitError, match="case nope: no such case"):
        select_uses(workspace, cases=["nope"])
    with pytest.raises(RevisitError, match="match 999999: no such match"):
        select_uses(workspace, match_ids=[999999])


def test_the_json_contract(tmp_path: Path) -> None:
    info = BundleInfo(
        bundle_id="20261205T000000Z-0a0b0c0d",
        path=tmp_path / "b",
        manifest_sha256="a" * 64,
        leaf_hash="b" * 64,
        ledger_index=7,
        checkpoint_size=8,
    )
    done = VisitResult(
        match_id=3,
        page_url="https://one.example/a.html",
        result="present",
        bundle=info,
        similarity=0.987654,
        ledger_index=8,
    )
    assert done.to_json() == {
        "match_id": 3,
        "page_url": "https://one.example/a.html",
        "result": "present",
        "bundle": {"bundle_id": info.bundle_id, "path": str(tmp_path / "b")},
        "similarity": 0.9877,
        "ledger_index": 8,
        "error": None,
    }
    failed = VisitResult(match_id=3, page_url="u", result=None, error="refused")
    assert failed.to_json()["bundle"] is None and failed.to_json()["error"] == "refused"


def test_the_continued_use_statement() -> None:
    at = times.now()
    data = continued_use(
        match_id=3,
        work_id="w1",
        page_url="https://one.example/a.html",
        result="moved",
        bundle_id="20261205T000000Z-0a0b0c0d",
        manifest_sha256="c" * 64,
        time=at,
        found_page_url="https://one.example/new.html",
        found_image_url="https://one.example/new.jpg",
    )
    parsed = load_statement(data)
    assert parsed["type"] == "continued-use" and parsed["result"] == "moved"
    assert parsed["found_page_url"].endswith("/new.html") and "similarity" not in parsed
    assert data == continued_use(
        match_id=3,
        work_id="w1",
        page_url="https://one.example/a.html",
        result="moved",
        bundle_id="20261205T000000Z-0a0b0c0d",
        manifest_sha256="c" * 64,
        time=at,
        found_page_url="https://one.example/new.html",
        found_image_url="https://one.example/new.jpg",
    )
    with pytest.raises(LedgerError, match="unknown visit result 'gone'"):
        continued_use(
            match_id=3,
            work_id="w1",
            page_url="u",
            result="gone",
            bundle_id="b",
            manifest_sha256="c" * 64,
            time=at,
        )
    with pytest.raises(LedgerError, match="manifest_sha256"):
        continued_use(
            match_id=3,
            work_id="w1",
            page_url="u",
            result="removed",
            bundle_id="b",
            manifest_sha256="nope",
            time=at,
        )


def test_a_scheduled_job_with_revisit_matches_visits_its_targets_matches(
    workspace: Workspace, photo_files: dict[str, Path]
) -> None:
    from copyseal.db.schema.crawl import ScheduleRun
    from copyseal.revisit import scheduled_uses

    ids = _seed(workspace, photo_files)
    assert scheduled_uses(workspace, "j2") == []  # not started by a schedule
    with Session(workspace.engine) as db:
        db.add(
            ScheduleRun(
                schedule="nightly",
                due_at=times.now(),
                target="cli",
                status="running",
                job_id="j2",
                revisit_pages=2,
                claimed_at=times.now(),
            )
        )
        db.commit()
    # The matches earlier jobs of the target found (j1), not the job's own.
    assert scheduled_uses(workspace, "j2") == [ids["a"], ids["b"], ids["c"]]
    assert scheduled_uses(workspace, "j1") == []


def test_a_visit_row_is_written_first_and_completed_with_its_statement(
    workspace: Workspace, photo_files: dict[str, Path], tmp_path: Path
) -> None:
    from copyseal.db.schema.bundle import EvidenceBundle
    from copyseal.db.schema.record import MatchVisit
    from copyseal.revisit._record import INTERRUPTED, finish_row, log_visit, start_row

    ids = _seed(workspace, photo_files)
    use = select_uses(workspace, match_ids=[ids["a"]])[0]
    row_id = start_row(workspace, use)
    with Session(workspace.engine) as db:
        row = db.get(MatchVisit, row_id)
        assert row is not None and row.result is None and row.error == INTERRUPTED
    info = BundleInfo(
        bundle_id="20261205T000000Z-0a0b0c0d",
        path=tmp_path / "b",
        manifest_sha256="a" * 64,
        leaf_hash="b" * 64,
        ledger_index=0,
        checkpoint_size=1,
    )
    at = times.now()
    with Session(workspace.engine) as db:
        db.add(
            EvidenceBundle(
                bundle_id=info.bundle_id,
                page_url=use.page_url,
                job_id=None,
                path=str(info.path),
                manifest_sha256=info.manifest_sha256,
                leaf_hash=info.leaf_hash,
                ledger_index=0,
                captured_at=at,
                created_at=at,
            )
        )
        db.commit()
    index = log_visit(
        workspace,
        use,
        result="changed",
        reason="another crop",
        bundle=info,
        similarity=0.61234,
        found_page_url=use.page_url,
        found_image_url=use.image_url,
        at=at,
    )
    finish_row(
        workspace,
        row_id,
        result="changed",
        similarity=0.6123,
        bundle_id=info.bundle_id,
        ledger_index=index,
        error=None,
    )
    with Session(workspace.engine) as db:
        row = db.get(MatchVisit, row_id)
        assert row is not None
        assert (row.result, row.bundle_id, row.ledger_index, row.error) == (
            "changed",
            info.bundle_id,
            index,
            None,
        )
        assert row.similarity == pytest.approx(0.6123)
    statement = load_statement(workspace.ledger().entry(index).data)
    assert statement["similarity"] == "0.6123" and statement["match_id"] == ids["a"]
