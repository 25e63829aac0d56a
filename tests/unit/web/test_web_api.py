"""The JSON API and the pages, over HTTP: queue, decisions, cases, export, OpenAPI."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

import pytest

from copyseal.export import receipt_files
from copyseal.ledger import verify_receipt

pytestmark = pytest.mark.browser  # the shared world is crawled and captured with Chromium


def test_openapi_document_is_served(site: Any, login: Any) -> None:
    c, _ = login("vera")
    doc = c.get("/api/openapi.json").json()
    assert doc["info"]["title"] == "copyseal review"
    for path in ("/api/queue", "/api/matches/{match_id}/decisions", "/api/cases/{case_id}/exports"):
        assert path in doc["paths"]
    assert not any(p.startswith("/matches") for p in doc["paths"])  # pages are not API


def test_a_script_drives_the_queue_to_an_export(site: Any, login: Any) -> None:
    ws = site[1]
    c, csrf = login("alice")
    h = {"X-CSRF-Token": csrf}
    queue = c.get("/api/queue", params={"site": "localhost"}).json()
    assert queue["total"] == len(queue["items"]) >= 1
    assert set(queue["counts"]) == {"new", "confirmed", "rejected", "needs-more-info", "licensed"}
    strongest = c.get("/api/queue", params={"sort": "strongest"}).json()["items"]
    assert [i["score"] for i in strongest] == sorted((i["score"] for i in strongest), reverse=True)
    ids = [i["match_id"] for i in queue["items"]]
    for match_id in ids:
        r = c.post(f"/api/matches/{match_id}/decisions", json={"decision": "confirmed"}, headers=h)
        assert r.status_code == 201 and r.json()["reviewer"] == "alice"
    m = c.get(f"/api/matches/{ids[0]}").json()
    assert m["status"] == "confirmed" and m["history"][0]["decision"] == "confirmed"
    v = c.get(f"/api/matches/{ids[0]}/verification").json()
    # The live checks end with the ledger's consistency, then the rows held to the bundle.
    assert v["ok"] is True and [ch["name"] for ch in v["checks"]][-3:] == [
        "consistency",
        "record",
        "entry",
    ]
    bad = c.post(f"/api/matches/{ids[0]}/decisions", json={"decision": "rejected"}, headers=h)
    assert bad.status_code == 400 and "reason" in bad.json()["error"]
    case = c.post(
        "/api/cases", json={"title": "localhost shop", "match_ids": ids}, headers=h
    ).json()
    assert case["domain"] == "localhost"
    export = c.post(
        f"/api/cases/{case['case_id']}/exports", json={"recipient": "counsel"}, headers=h
    )
    assert export.status_code == 201
    data = export.json()
    zipped = c.get(data["download"])
    assert (
        zipped.status_code == 200 and hashlib.sha256(zipped.content).hexdigest() == data["sha256"]
    )
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as zf:
        doc = json.loads(zf.read(f"{case['case_id']}/case.json"))
    assert {m["match_id"] for m in doc["matches"]} == set(ids)
    assert ws.ledger().entry(data["ledger_index"]).entry_type == "export"
    board = c.get("/api/dashboard").json()
    assert board["matches"]["confirmed"] >= len(ids) and board["bundles_failed"] == 0
    assert board["bundles_ok"] == len(board["bundles"]) >= 1


def test_pages_render(site: Any, login: Any) -> None:
    c, _ = login("alice")
    for path, needle in (
        ("/", "Top infringing domains"),
        ("/queue?status=new&sort=strongest", "Review queue"),
        ("/queue?min_score=abc", "min_score must be a number"),
        ("/cases", "Cases"),
        ("/admin/users", "Add a user"),
    ):
        r = c.get(path)
        assert needle in r.text, path
    assert "<svg" in c.get("/").text


def test_an_export_from_the_app_keeps_its_ledger_receipt(site: Any, login: Any) -> None:
    """The button's export keeps the export statement and its receipt; the case page and
    the API link them; they verify against the ledger key, even once the files are gone."""
    ws = site[1]
    alice, acsrf = login("alice")
    ids = [
        i["match_id"] for i in alice.get("/api/queue", params={"site": "127.0.0.1"}).json()["items"]
    ]
    for match_id in ids:
        alice.post(
            f"/api/matches/{match_id}/decisions",
            json={"decision": "confirmed"},
            headers={"X-CSRF-Token": acsrf},
        )
    lars, csrf = login("lars")
    case = lars.post(
        "/api/cases",
        json={"title": "127 shop", "match_ids": ids},
        headers={"X-CSRF-Token": csrf},
    ).json()
    case_id = case["case_id"]
    r = lars.post(f"/cases/{case_id}/export", data={"csrf_token": csrf, "recipient": "counsel"})
    assert r.status_code == 303
    (export,) = lars.get(f"/api/cases/{case_id}").json()["exports"]
    index = export["ledger_index"]
    base = f"/cases/{case_id}/receipts/export-{index}"
    assert export["statement_download"] == base + ".json"
    assert export["receipt_download"] == base + ".tlog-proof"
    page = lars.get(f"/cases/{case_id}").text
    assert f'href="{base}.json"' in page and f'href="{base}.tlog-proof"' in page
    statement = lars.get(base + ".json")
    receipt = lars.get(base + ".tlog-proof")
    assert statement.status_code == receipt.status_code == 200
    assert "attachment" in receipt.headers["content-disposition"]
    assert statement.content == ws.ledger().entry(index).data
    logged = json.loads(statement.content)
    assert (logged["type"], logged["case_id"], logged["recipient"]) == (
        "export",
        case_id,
        "counsel",
    )
    assert logged["package_sha256"] == export["package_sha256"]
    vkey = ws.ledger().vkey()
    verify_receipt(receipt.text, statement.content, vkey)
    kept = [p.read_bytes() for p in receipt_files(ws, index)]
    assert kept == [statement.content, receipt.content]
    # The receipt comes from the files the workspace kept; without them, from the ledger.
    for path in receipt_files(ws, index):
        path.unlink()
    again = lars.get(base + ".tlog-proof")
    assert again.status_code == 200
    verify_receipt(again.text, lars.get(base + ".json").content, vkey)
    assert lars.get(f"/cases/{case_id}/receipts/export-{index - 1}.json").status_code == 404
    vera, _ = login("vera")
    assert vera.get(base + ".tlog-proof").status_code == 403
    assert 'class="receipt"' not in vera.get(f"/cases/{case_id}").text
