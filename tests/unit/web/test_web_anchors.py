"""The match page and the API show a bundle's anchor state and serve its anchor proof."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete

from copyseal.anchors import service
from copyseal.db.schema.anchors import ANCHOR_RECORDS
from copyseal.review.evidence import bundle_path_of
from copyseal.review.queue import queue
from copyseal.workspace import Workspace

from .conftest import W

pytestmark = pytest.mark.browser  # the shared world is crawled and captured with Chromium


@pytest.fixture(scope="module")
def anchored_site(
    world: Any, tsa: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Workspace, dict[str, Any]]]:
    """The app over a copy of the world anchored by its ledger and a loopback TSA:
    (base URL, workspace, the TSA's ``anchors run`` result)."""
    copy = W.copy_workspace(world, tmp_path_factory.mktemp("web-anchors") / "ws")
    ws = W.with_tsa(copy, tsa)
    copy.close()
    results = {r["kind"]: r for r in service.run(ws)}
    assert "error" not in results["rfc3161"], results
    with W.serve_app(ws) as base:
        yield base, ws, results["rfc3161"]
    ws.close()


@contextlib.contextmanager
def _client(base: str, name: str) -> Iterator[httpx.Client]:
    """A client logged in as ``name`` through the login form."""
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as c:
        page = c.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        done = c.post(
            "/login",
            data={"name": name, "password": W.PASSWORDS[name][1], "csrf_token": token.group(1)},
        )
        assert done.status_code == 303
        yield c


def _sealed(ws: Workspace) -> Any:
    return next(i for i in queue(ws).items if i.bundle_id)


def test_the_api_gives_each_anchors_state_and_time(anchored_site: Any) -> None:
    base, ws, stamped = anchored_site
    item = _sealed(ws)
    with _client(base, "vera") as c:
        m = c.get(f"/api/matches/{item.match_id}").json()
    anchors = {(a["kind"], a["name"]): a for a in m["anchors"]}
    assert set(anchors) == {("ledger", ws.ledger().origin), ("rfc3161", "main")}
    tsa = anchors[("rfc3161", "main")]
    assert tsa["state"] in {"anchored", "confirmed"}
    assert tsa["size"] == stamped["size"] and tsa["anchored_at"] == stamped["gen_time"]
    assert m["anchor_state"] in {"anchored", "confirmed"}
    assert m["proven_at"] == stamped["gen_time"] and m["proven_by"] == "rfc3161:main"
    assert m["anchor_proof_download"] == f"/matches/{item.match_id}/anchor-proof"


def test_the_match_page_shows_the_anchors(anchored_site: Any) -> None:
    base, ws, stamped = anchored_site
    item = _sealed(ws)
    with _client(base, "vera") as c:
        page = c.get(f"/matches/{item.match_id}")
    assert page.status_code == 200
    table = page.text.split('id="anchors"', 1)[1].split("</table>", 1)[0]
    assert "rfc3161:main" in table and stamped["gen_time"] in table
    assert "Earliest externally proven time" in page.text
    assert f'href="/matches/{item.match_id}/anchor-proof"' in page.text
    assert "✔ verified against the ledger now" in page.text


def test_the_downloaded_anchor_proof_verifies(anchored_site: Any, tsa: Any, tmp_path: Path) -> None:
    base, ws, _ = anchored_site
    item = _sealed(ws)
    with _client(base, "vera") as c:
        r = c.get(f"/matches/{item.match_id}/anchor-proof")
    assert r.status_code == 200
    assert f'filename="{item.bundle_id}.anchor-proof.json"' in r.headers["content-disposition"]
    assert r.content == service.bundle_proof(ws, item.bundle_id)  # the command's bytes
    proof = tmp_path / "proof.json"
    proof.write_bytes(r.content)
    bundle = bundle_path_of(ws, item.match_id)
    args = [str(bundle), "--vkey", ws.ledger().vkey(), "--anchor-proof", str(proof)]
    code, doc = W.verify_cli(*args, "--tsa-ca", str(tsa.pki.ca_cert))
    assert code == 0 and doc["ok"], [ch for ch in doc["checks"] if not ch["ok"]]
    assert {p["kind"] for p in doc["anchors"]} == {"ledger", "rfc3161"}


def test_the_anchor_proof_needs_a_session(anchored_site: Any) -> None:
    base, ws, _ = anchored_site
    item = _sealed(ws)
    anonymous = httpx.get(f"{base}/matches/{item.match_id}/anchor-proof")
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]
    with _client(base, "vera") as c:
        assert c.get("/matches/999999/anchor-proof").status_code == 404


def test_a_bundle_no_anchor_covers_is_pending(site: Any, login: Any) -> None:
    _, ws = site
    with ws.engine.begin() as conn:
        conn.execute(delete(ANCHOR_RECORDS))  # nothing anchored yet
    item = _sealed(ws)
    c, _ = login("vera")
    m = c.get(f"/api/matches/{item.match_id}").json()
    assert m["anchor_state"] == "pending" and m["anchor_proof_download"] is None
    assert [(a["kind"], a["state"], a["size"]) for a in m["anchors"]] == [
        ("ledger", "pending", None)
    ]
    assert m["proven_at"] is None
    page = c.get(f"/matches/{item.match_id}").text
    assert "No anchored checkpoint covers this bundle yet" in page
    assert 'id="anchor-proof"' not in page
    r = c.get(f"/matches/{item.match_id}/anchor-proof")
    assert r.status_code == 404 and "no anchored checkpoint covers" in r.text
