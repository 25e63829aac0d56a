"""Grant, revoke, list and import licences on SQLite and PostgreSQL, through the ledger;
classification of a stored match, and the ``licensed`` decision copyseal records."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from copyseal.db.models import CrawlJob, CrawlMatch, Work
from copyseal.ledger.statements import load_statement
from copyseal.licences import (
    LicenceError,
    classify,
    grant,
    import_sale,
    list_licences,
    revoke,
    settle_job,
)
from copyseal.review.decisions import SYSTEM_REVIEWER, history
from copyseal.review.queue import QueueFilter, queue
from copyseal.times import now
from copyseal.workspace import Workspace

WORK = "w" + "b" * 20
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def work(workspace: Workspace) -> str:
    with Session(workspace.engine) as s, s.begin():
        s.add(
            Work(
                work_id=WORK,
                sha256="b" * 64,
                size=1,
                width=1,
                height=1,
                format="JPEG",
                registered_at=T0,
            )
        )
    return WORK


def _statement(ws: Workspace, index: int | None) -> dict[str, object]:
    assert index is not None
    return load_statement(ws.ledger().entry(index).data)


def test_grant_logs_the_licence_and_lists_it(workspace: Workspace, work: str) -> None:
    rec = grant(
        workspace,
        work,
        licensee=" Acme Ltd ",
        domains=["Shop.Example", "*.acme.example", "shop.example"],
        url_patterns=["https://blog.example/2026/*"],
        valid_from="2026-01-01",
        valid_until="2026-12-31",
        territory="EU",
        terms="web use, 1200 px",
    )
    assert rec.licence_id.startswith("l") and len(rec.licence_id) == 21
    assert rec.domains == ("shop.example", "*.acme.example")
    assert rec.valid_until == datetime(2027, 1, 1, tzinfo=UTC)
    digest = hashlib.sha256(b"web use, 1200 px").hexdigest()
    assert set(rec.to_json()) == {
        "licence_id", "work_id", "licensee", "domains", "url_patterns", "valid_from",
        "valid_until", "territory", "terms_sha256", "source", "buyer", "tx_hash",
        "ledger_index", "revoked_at",
    }  # fmt: skip
    assert rec.to_json()["terms_sha256"] == digest and rec.to_json()["source"] == "grant"
    logged = _statement(workspace, rec.ledger_index)
    assert logged["type"] == "licence" and logged["licence_id"] == rec.licence_id
    assert logged["terms_sha256"] == digest and "terms" not in logged
    assert logged["domains"] == ["shop.example", "*.acme.example"]
    assert logged["valid_until"] == "2027-01-01T00:00:00Z" and logged["licensee"] == "Acme Ltd"
    assert [r.to_json() for r in list_licences(workspace)] == [rec.to_json()]
    assert list_licences(workspace, work_id="w-other") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"licensee": " ", "domains": ["a.example"]}, "needs a licensee"),
        ({"licensee": "A"}, "at least one --domain or --url-pattern"),
        ({"licensee": "A", "domains": ["http://a.example/"]}, "'http://a.example/' is not a host"),
        (
            {
                "licensee": "A",
                "domains": ["a.example"],
                "valid_from": "2026-05-01",
                "valid_until": "2026-03-01",
            },
            r"end \(2026-03-02T00:00:00\+00:00, --until\) before it starts",
        ),
    ],
)
def test_bad_grants_are_refused(
    workspace: Workspace, work: str, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(LicenceError, match=message):
        grant(workspace, work, **kwargs)  # type: ignore[arg-type]
    assert list_licences(workspace) == []


def test_an_unknown_work_is_named(workspace: Workspace) -> None:
    with pytest.raises(LicenceError, match="no work 'wnope'"):
        grant(workspace, "wnope", licensee="A", domains=["a.example"])


def test_revoke(workspace: Workspace, work: str) -> None:
    rec = grant(workspace, work, licensee="A", domains=["a.example"], valid_from=T0)
    with pytest.raises(LicenceError, match="say why"):
        revoke(workspace, rec.licence_id, reason=" ")
    with pytest.raises(LicenceError, match="no licence 'lnope'"):
        revoke(workspace, "lnope", reason="x")
    size = workspace.ledger().size()
    done = revoke(workspace, rec.licence_id, reason="unpaid invoice")
    assert done.revoked_at is not None and done.revoke_reason == "unpaid invoice"
    assert done.to_json()["revoked_at"] is not None
    assert workspace.ledger().size() == size + 1
    assert _statement(workspace, size) == {
        "type": "licence-revocation",
        "licence_id": rec.licence_id,
        "reason": "unpaid invoice",
        "time": _statement(workspace, size)["time"],
    }
    with pytest.raises(LicenceError, match="revoked already"):
        revoke(workspace, rec.licence_id, reason="again")
    later = done.revoked_at + timedelta(seconds=1)
    verdict = classify(workspace, work_id=work, page_url="https://a.example/", at=later)
    assert verdict.licence_id is None and verdict.note is not None
    assert verdict.note.startswith(f"licence {rec.licence_id} was revoked on")


def test_import_sale_is_idempotent(workspace: Workspace, work: str) -> None:
    sale = {
        "work_id": work,
        "licensee": "Buyer Co",
        "domains": ["buyer.example"],
        "url_patterns": [],
        "valid_from": T0,
        "valid_until": T0 + timedelta(days=365),
        "terms_sha256": "c" * 64,
        "buyer": "0x" + "ab" * 20,
        "tx_hash": "0x" + "EF" * 32,
        "chain_id": 31337,
        "log_index": 3,
    }
    first = import_sale(workspace, **sale)  # type: ignore[arg-type]
    again = import_sale(workspace, **{**sale, "tx_hash": "0x" + "ef" * 32})  # type: ignore[arg-type]
    assert again == first and len(list_licences(workspace)) == 1
    assert first.source == "market" and first.to_json()["buyer"] == "0x" + "ab" * 20
    assert first.to_json()["tx_hash"] == "0x" + "ef" * 32
    logged = _statement(workspace, first.ledger_index)
    assert (logged["source"], logged["chain_id"], logged["log_index"]) == ("market", 31337, 3)
    other = import_sale(workspace, **{**sale, "log_index": 4})  # type: ignore[arg-type]
    assert other.licence_id != first.licence_id and len(list_licences(workspace)) == 2
    at = T0 + timedelta(days=10)
    verdict = classify(workspace, work_id=work, page_url="https://buyer.example/p", at=at)
    assert verdict.licence_id in {first.licence_id, other.licence_id}


def _match(ws: Workspace, work: str, page_url: str, licence: str | None) -> int:
    with Session(ws.engine) as s, s.begin():
        if s.get(CrawlJob, "job1") is None:
            s.add(
                CrawlJob(
                    job_id="job1",
                    target="t",
                    spider="site",
                    render=False,
                    status="finished",
                    spec="{}",
                    created_at=T0,
                )
            )
            s.flush()
        row = CrawlMatch(
            job_id="job1",
            page_key=page_url,
            image_key="i",
            page_url=page_url,
            image_url=page_url + "/i.jpg",
            work_id=work,
            score=0.9,
            image_sha256="d" * 64,
            location="{}",
            detail=json.dumps({"method": "exact"}),
            found_at=now(),
            licence=licence,
        )
        s.add(row)
        s.flush()
        return row.id


def test_settle_job_decides_licensed_matches_once(workspace: Workspace, work: str) -> None:
    rec = grant(workspace, work, licensee="A", domains=["a.example"], valid_from=T0)
    covered = _match(workspace, work, "https://a.example/p", rec.licence_id)
    other = _match(workspace, work, "https://b.example/p", None)
    assert settle_job(workspace, "job1") == 1
    assert settle_job(workspace, "job1") == 0
    (decision,) = history(workspace, covered)
    assert (decision.decision, decision.reviewer) == ("licensed", SYSTEM_REVIEWER)
    assert rec.licence_id in decision.comment
    logged = _statement(workspace, decision.ledger_index)
    assert logged["type"] == "review-decision" and logged["licence"] == rec.licence_id
    assert logged["decision"] == "licensed" and logged["reviewer"] == SYSTEM_REVIEWER
    assert history(workspace, other) == []
    page = queue(workspace)
    assert page.counts["licensed"] == 1 and page.counts["new"] == 1
    licensed = queue(workspace, QueueFilter(status="licensed"))
    assert [(i.match_id, i.status) for i in licensed.items] == [(covered, "licensed")]
