"""Anchoring under faults, through the real command line with real components: a TSA that
is down while pages are captured, a copyseal killed between sending an anchor transaction
to anvil and recording it, and a log truncated or rewritten after it was anchored.

Every process started here is stopped here, and every wait has a deadline.
"""

from __future__ import annotations

import base64
import http.server
import io
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import delete

from anvil_node import CHAIN_ID, DEV_ADDRESSES, DEV_KEYS, AnvilNode, anvil_binary
from copyseal.config import load_settings
from copyseal.db.schema.ledger import CHECKPOINTS, ENTRIES, SUBTREES
from copyseal.workspace import Workspace, init_workspace
from loopback_tsa import LoopbackTsa, TsaPki, make_pki

#: Seconds any one copyseal command may take here (a crawl with capture takes longest).
_COMMAND_TIMEOUT = 300
#: Seconds to wait for a child process to reach a state it is expected to reach.
_WAIT = 90.0


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}


def _command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "copyseal", "--config", str(config), *args]


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """One ``copyseal`` command in a new process, bounded in time."""
    return subprocess.run(
        _command(config, *args),
        capture_output=True,
        text=True,
        timeout=_COMMAND_TIMEOUT,
        env=_env(),
        check=False,
    )


def cli_json(config: Path, *args: str, code: int = 0) -> Any:
    done = cli(config, *args, "--json")
    assert done.returncode == code, done.stderr
    return json.loads(done.stdout)


def _closed_port() -> int:
    """A loopback port nothing listens on (bound and released at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _wait_for(what: str, ready: Callable[[], bool], timeout: float = _WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)


def _jpeg(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=92)
    return out.getvalue()


def _workspace(folder: Path, section: str, entry: str) -> Path:
    """A new workspace with one anchor: ``entry`` (``NAME: {...}``) under ``anchors.SECTION``."""
    init_workspace(folder)
    config = folder / "config.yaml"
    text = config.read_text(encoding="utf-8")
    empty = f"  {section}: {{}}\n"
    assert text.count(empty) == 1
    config.write_text(text.replace(empty, f"  {section}:\n    {entry}\n"), encoding="utf-8")
    return config


class _TsaOnPort(LoopbackTsa):
    """The loopback TSA, listening on a given port: the one the workspace was configured
    with while nothing listened there (the TSA was down)."""

    def __init__(self, pki: TsaPki, *, port: int) -> None:
        super().__init__(pki)
        self._port = port

    def start(self) -> _TsaOnPort:
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path, photos: dict[str, np.ndarray]) -> Iterator[tuple[str, Path]]:
    """One page on 127.0.0.1 showing an exact copy of a work, and the work's file."""
    work = tmp_path / "works" / "coffee.jpg"
    work.parent.mkdir()
    work.write_bytes(_jpeg(photos["coffee"]))
    www = tmp_path / "www"
    www.mkdir()
    (www / "copy.jpg").write_bytes(work.read_bytes())
    (www / "index.html").write_text(
        "<html><head><title>Copies</title></head><body>"
        "<img src='copy.jpg' width='400'></body></html>"
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html", work
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _by_kind(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["kind"]: r for r in results}


@pytest.mark.browser
def test_an_anchor_that_is_down_never_stops_capture_and_catches_up(
    tmp_path: Path, site: tuple[str, Path]
) -> None:
    pki = make_pki(tmp_path / "pki", key_type="ec")
    port = _closed_port()
    config = _workspace(
        tmp_path / "ws",
        "tsa",
        f"loop: {{url: 'http://127.0.0.1:{port}/tsa', ca_file: '{pki.ca_cert}'}}",
    )
    url, work = site
    registered = cli_json(config, "register", str(work), "--owner", "Jane Doe")
    assert registered[0]["ledger_index"] == 0

    # The TSA is down while the page is crawled, captured and sealed.
    result = cli_json(
        config,
        "--set",
        "crawl.autothrottle=false",
        "crawl",
        url,
        "--allow-private",
        "--no-progress",
    )
    assert [m["image_url"] for m in result["matches"]] == [url.replace("index.html", "copy.jpg")]
    [sealed] = result["sealed"]
    assert sealed["error"] is None
    bundle_id = sealed["bundle"]["bundle_id"]
    [bundle] = [b for b in cli_json(config, "bundles") if b["bundle_id"] == bundle_id]
    vkey = cli_json(config, "ledger", "vkey")["vkey"]
    checked = cli_json(config, "verify", bundle["path"], "--vkey", vkey)
    assert checked["ok"], checked["checks"]

    size = cli_json(config, "ledger", "status")["size"]
    assert size == 2  # the registration and the bundle
    status = _by_kind(cli_json(config, "anchors", "status"))
    assert status["ledger"]["anchored_size"] == size  # the log's own signature never waits
    down = status["rfc3161"]
    assert (down["name"], down["anchored_size"], down["pending_entries"]) == ("loop", None, size)
    assert down["last_error"] and down["status"] == "failed"

    # The TSA comes back on its port; on demand the anchor catches up at once.
    with _TsaOnPort(pki, port=port) as tsa:
        ran = _by_kind(cli_json(config, "anchors", "run"))
        assert tsa.queries == 1
    stamped = ran["rfc3161"]
    assert (stamped["size"], stamped["status"]) == (size, "confirmed")
    assert "error" not in stamped and stamped["gen_time"]
    status = _by_kind(cli_json(config, "anchors", "status"))
    assert (status["rfc3161"]["pending_entries"], status["rfc3161"]["last_error"]) == (0, None)

    # The bundle's anchor proof verifies offline (the TSA is down again: not needed).
    proof = tmp_path / "bundle.anchor-proof.json"
    cli_json(config, "bundles", "anchor-proof", bundle_id, "--out", str(proof))
    verified = cli_json(
        config,
        "verify",
        bundle["path"],
        "--vkey",
        vkey,
        "--anchor-proof",
        str(proof),
        "--tsa-ca",
        str(pki.ca_cert),
    )
    assert verified["ok"], [c for c in verified["checks"] if not c["ok"]]
    [by_tsa] = [a for a in verified["anchors"] if a["kind"] == "rfc3161"]
    assert by_tsa["size"] == size and by_tsa["time"] == stamped["gen_time"]


@pytest.fixture
def anvil_bin() -> Path:
    """The anvil executable; the test is skipped without it, except under CI."""
    binary = anvil_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("anvil is not installed: run `make anvil`")
        pytest.skip("anvil is not installed (`make anvil` fetches it)")
    return binary


@pytest.fixture
def anvil(anvil_bin: Path) -> Iterator[AnvilNode]:
    """A fresh anvil on loopback (automine: each transaction is mined in a block of its
    own, and no block comes without one unless ``evm_mine`` asks for it)."""
    with AnvilNode(anvil_bin) as node:
        yield node


def _evm_workspace(folder: Path, url: str, chain_id: int, *, confirmations: int = 0) -> Path:
    key_file = folder.parent / "evm.key"
    key_file.write_text(DEV_KEYS[0] + "\n", encoding="ascii")
    key_file.chmod(0o600)
    return _workspace(
        folder,
        "evm",
        f"chain: {{rpc_url: '{url}', chain_id: {chain_id}, key_file: '{key_file}',"
        f" confirmations: {confirmations}}}",
    )


def test_a_chain_that_is_down_is_retried_and_catches_up(
    tmp_path: Path, anvil_bin: Path, photos: dict[str, np.ndarray]
) -> None:
    binary, port, chain_id = anvil_bin, _closed_port(), CHAIN_ID
    state = tmp_path / "chain.json"  # the chain, kept while its node is down
    config = _evm_workspace(tmp_path / "ws", f"http://127.0.0.1:{port}", chain_id)
    with AnvilNode(binary, port=port, state=state) as node:
        contract = cli_json(config, "anchors", "deploy", "chain")["contract"]
        assert int(node.rpc("eth_getTransactionCount", DEV_ADDRESSES[0], "latest"), 16) == 1
    work = tmp_path / "rocket.jpg"
    work.write_bytes(_jpeg(photos["rocket"]))
    cli_json(config, "register", str(work))  # the node is down: registration goes on

    failed = _by_kind(cli_json(config, "anchors", "run"))
    assert failed["ledger"]["status"] == "confirmed"
    assert failed["evm"]["status"] == "failed" and failed["evm"]["error"]
    status = _by_kind(cli_json(config, "anchors", "status"))["evm"]
    assert (status["anchored_size"], status["pending_entries"]) == (None, 1)
    assert status["last_error"] == failed["evm"]["error"] and status["attempts"] == 1

    with AnvilNode(binary, port=port, state=state) as node:
        assert node.rpc("eth_getCode", contract, "latest") not in ("0x", "0x0")
        caught_up = _by_kind(cli_json(config, "anchors", "run"))["evm"]
        assert (caught_up["status"], caught_up["size"]) == ("confirmed", 1)
        assert int(node.rpc("eth_getTransactionCount", DEV_ADDRESSES[0], "latest"), 16) == 2
    status = _by_kind(cli_json(config, "anchors", "status"))["evm"]
    assert (status["anchored_size"], status["pending_entries"], status["last_error"]) == (
        1,
        0,
        None,
    )


def _anchor_status(db: Path, kind: str) -> list[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        rows = conn.execute(
            "SELECT status FROM anchor_records WHERE kind = ? ORDER BY tree_size", (kind,)
        ).fetchall()
    return [r[0] for r in rows]


def test_killing_copyseal_between_sent_and_recorded_loses_nothing(
    tmp_path: Path, anvil: AnvilNode, photos: dict[str, np.ndarray]
) -> None:
    # Three confirmations: after its transaction is mined the anchor waits for three more
    # blocks, which never come while nobody mines: a copyseal killed then has sent the
    # transaction but not recorded it.
    config = _evm_workspace(tmp_path / "ws", anvil.url, anvil.chain_id, confirmations=3)
    account = DEV_ADDRESSES[0]
    deployed = cli_json(config, "anchors", "deploy", "chain")
    contract = deployed["contract"]
    work = tmp_path / "astronaut.jpg"
    work.write_bytes(_jpeg(photos["astronaut"]))
    [registered] = cli_json(config, "register", str(work), "--owner", "Jane Doe")

    def nonce() -> int:
        return int(anvil.rpc("eth_getTransactionCount", account, "latest"), 16)

    def events() -> list[dict[str, Any]]:
        found = anvil.rpc("eth_getLogs", {"address": contract, "fromBlock": "0x0"})
        assert isinstance(found, list)
        return found

    assert (nonce(), events()) == (1, [])  # the deployment only
    db = tmp_path / "ws" / "copyseal.db"
    child = subprocess.Popen(
        _command(config, "anchors", "run", "--json"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(),
    )
    try:
        _wait_for("the anchor transaction to be mined", lambda: nonce() == 2)
        # Mined, and the child waits for confirmations: sent, not recorded.
        assert child.poll() is None
        assert _anchor_status(db, "evm") == ["sent"]
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert _anchor_status(db, "evm") == ["sent"]
    [sent] = events()

    anvil.mine(3)
    ran = _by_kind(cli_json(config, "anchors", "run"))
    found = ran["evm"]
    assert (found["status"], found["size"]) == ("confirmed", 1)
    assert found["tx_hash"] == sent["transactionHash"]
    assert found["block_number"] == int(sent["blockNumber"], 16)
    # Found again on the chain: no second transaction, one event.
    assert nonce() == 2 and len(events()) == 1
    assert _anchor_status(db, "evm") == ["confirmed"]

    # The work's registration receipt and anchor proof verify against the original,
    # offline and then online (the block is canonical with its confirmations).
    out = tmp_path / "work.tlog-proof"
    written = cli_json(config, "works", "anchor-proof", registered["work_id"], "--out", str(out))
    assert "evm:chain" in written["anchored"][0]["anchors"]
    vkey = cli_json(config, "ledger", "vkey")["vkey"]
    verify = ["verify", str(out), "--vkey", vkey, "--data", str(work)]
    verify += ["--anchor-proof", written["anchor_proof"]]
    offline = cli_json(config, *verify)
    assert offline["ok"], [c for c in offline["checks"] if not c["ok"]]
    [by_chain] = [a for a in offline["anchors"] if a["kind"] == "evm"]
    assert by_chain["block"] == found["block_number"]
    [claim] = offline["proven"]
    assert claim.startswith(f"work {registered['work_id']} (sha256 ")
    assert f"in block {found['block_number']} of EVM anchor chain" in claim
    online = cli_json(config, *verify, "--rpc", anvil.url)
    assert online["ok"] and "anchor:evm:chain:online" in [c["name"] for c in online["checks"]]


def _registered_in_two_batches(tmp_path: Path, config: Path, photos: dict[str, np.ndarray]) -> None:
    """Eight works: six in one registration (checkpoint 6), two more (checkpoint 8)."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    for name, pixels in photos.items():
        (first / f"{name}.jpg").write_bytes(_jpeg(pixels))
    for name in ("astronaut", "rocket"):
        (second / f"{name}-crop.jpg").write_bytes(_jpeg(photos[name][40:300, 60:360]))
    for folder in (first, second):
        done = cli(config, "register", str(folder), "--owner", "Jane Doe")
        assert done.returncode == 0, done.stderr


def _copy(ws_dir: Path, to: Path) -> Workspace:
    shutil.copytree(ws_dir, to)
    return Workspace.open(load_settings(to / "config.yaml"))


def test_a_truncated_or_rewritten_log_fails_the_audit_naming_the_anchored_checkpoint(
    tmp_path: Path, photos: dict[str, np.ndarray]
) -> None:
    pki = make_pki(tmp_path / "pki", key_type="rsa")
    with LoopbackTsa(pki) as tsa:
        ws_dir = tmp_path / "ws"
        config = _workspace(ws_dir, "tsa", f"loop: {{url: '{tsa.url}', ca_file: '{pki.ca_cert}'}}")
        _registered_in_two_batches(tmp_path, config, photos)
        status = cli_json(config, "ledger", "status")
        assert (status["size"], status["checkpoints"]) == (8, 2)
        ran = _by_kind(cli_json(config, "anchors", "run"))
    assert {k: r["size"] for k, r in ran.items()} == {"ledger": 8, "rfc3161": 8}
    audit = cli_json(config, "ledger", "audit")
    assert audit["ok"] and audit["trusted_checked"] == 1
    origin = status["origin"]
    named = f"(checkpoint 8 anchored by ledger:{origin}, rfc3161:loop)"

    # Truncated: entries 6 and later deleted with their checkpoints and subtrees.
    ws = _copy(ws_dir, tmp_path / "truncated")
    try:
        with ws.engine.begin() as conn:
            conn.execute(delete(ENTRIES).where(ENTRIES.c.leaf_index >= 6))
            conn.execute(delete(CHECKPOINTS).where(CHECKPOINTS.c.tree_size > 6))
            for level in range(1, 4):  # every subtree that reaches past leaf 5
                conn.execute(
                    delete(SUBTREES).where(
                        SUBTREES.c.level == level, SUBTREES.c.node_index >= 6 >> level
                    )
                )
        assert ws.ledger().size() == 6 and ws.ledger().audit().ok  # consistent by itself
    finally:
        ws.close()
    problem = cli_json(tmp_path / "truncated" / "config.yaml", "ledger", "audit", code=3)["problem"]
    assert (problem["kind"], problem["index"]) == ("rewritten-history", 8)
    assert "only has 6 entries" in problem["message"] and named in problem["message"]

    # Rewritten and re-signed with the workspace's own key: one registration's owner is
    # changed and the whole log rebuilt in the same batches.
    ws = _copy(ws_dir, tmp_path / "rewritten")
    try:
        ledger = ws.ledger()
        entries = [ledger.entry(i) for i in range(8)]
        with ws.engine.begin() as conn:
            for table in (ENTRIES, CHECKPOINTS, SUBTREES):
                conn.execute(delete(table))
        changed = [(e.entry_type, e.data) for e in entries]
        assert b'"owner":"Jane Doe"' in changed[3][1]
        changed[3] = (changed[3][0], changed[3][1].replace(b"Jane Doe", b"Mallory"))
        ledger.append(changed[:6])
        ledger.append(changed[6:])
        rewritten = ledger.audit()
        assert rewritten.ok and rewritten.size == 8  # self-consistent, validly signed
        assert base64.b64encode(rewritten.root).decode() != audit["root"]
    finally:
        ws.close()
    problem = cli_json(tmp_path / "rewritten" / "config.yaml", "ledger", "audit", code=3)["problem"]
    assert (problem["kind"], problem["index"]) == ("rewritten-history", 8)
    assert "history was rewritten" in problem["message"] and named in problem["message"]
