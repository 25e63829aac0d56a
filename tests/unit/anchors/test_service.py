"""The anchoring service: building anchors, running them, their state, back-off, crashes.

Runs on SQLite and PostgreSQL (the ``workspace`` fixture). The second kind is
:class:`~._service_kit.GateAnchor`, a real kind kept in a test-local table.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, update

from copyseal.anchors import service
from copyseal.config import Settings, load_settings
from copyseal.db.schema.anchors import ANCHOR_RECORDS
from copyseal.errors import ConfigError
from copyseal.times import now
from copyseal.workspace import Workspace

from ._service_kit import TABLE, gate_entries


def _grow(ws: Workspace, n: int) -> int:
    ws.ledger().append([("test", b'{"n":%d}' % i) for i in range(n)])
    return ws.ledger().size()


def _rows(ws: Workspace) -> list[tuple[str, str, int, str, int]]:
    with ws.engine.connect() as conn:
        return [
            (r.kind, r.name, r.tree_size, r.status, r.attempts)
            for r in conn.execute(
                select(ANCHOR_RECORDS).order_by(
                    ANCHOR_RECORDS.c.kind, ANCHOR_RECORDS.c.name, ANCHOR_RECORDS.c.tree_size
                )
            )
        ]


def test_the_ledger_kind_is_run_and_recorded(workspace: Workspace) -> None:
    assert service.run(workspace) == []  # an empty log: nothing to anchor
    size = _grow(workspace, 3)
    origin = workspace.settings.ledger.origin
    [result] = service.run(workspace)
    assert result["kind"] == "ledger" and result["name"] == origin
    assert result["size"] == size and result["status"] == "confirmed"
    assert result["checkpoint"] == workspace.ledger().latest_checkpoint().note
    assert "error" not in result
    [st] = service.status(workspace)
    assert st["anchored_size"] == size and st["pending_entries"] == 0 and st["last_error"] is None
    new = _grow(workspace, 2)
    assert service.status(workspace)[0]["pending_entries"] == 2
    service.run(workspace)
    service.run(workspace)  # nothing new: the recorded anchor is kept, not re-sent
    assert _rows(workspace) == [
        ("ledger", origin, size, "confirmed", 0),
        ("ledger", origin, new, "confirmed", 0),
    ]


def test_due_waits_for_every_seconds_and_growth(workspace: Workspace) -> None:
    assert not service.due(workspace)  # empty
    _grow(workspace, 1)
    assert service.due(workspace)
    assert service.run_if_due(workspace) is not None
    assert not service.due(workspace)  # anchored, and too soon
    _grow(workspace, 1)
    assert not service.due(workspace)  # grown, but anchored less than 600 s ago
    with workspace.engine.begin() as conn:
        conn.execute(update(ANCHOR_RECORDS).values(updated_at=now() - timedelta(seconds=601)))
    assert service.due(workspace)
    assert service.run_if_due(workspace) is not None
    assert service.run_if_due(workspace) is None


def test_a_failing_anchor_backs_off_and_does_not_stop_the_others(
    workspace: Workspace, tmp_path: Path
) -> None:
    size = _grow(workspace, 4)
    up, down = tmp_path / "up", tmp_path / "down"
    entries = {**gate_entries(up, "up"), "gate": {"up": {"folder": up}, "down": {"folder": down}}}
    down.mkdir()
    (down / "down").touch()
    anchors = service.build(workspace, table=TABLE, entries=entries)
    results = {(r["kind"], r["name"]): r for r in service.run(workspace, anchors=anchors)}
    assert results["gate", "down"]["error"] == "AnchorError: gate down is down"
    assert results["gate", "up"]["status"] == "confirmed"
    assert results["ledger", workspace.settings.ledger.origin]["status"] == "confirmed"
    failed = [r for r in _rows(workspace) if r[1] == "down"]
    assert failed == [("gate", "down", size, "failed", 1)]
    first_retry = results["gate", "down"]["retry_at"]
    # The pipeline's runs respect the back-off: not tried again yet.
    service.run(workspace, anchors=anchors, respect_backoff=True)
    assert next(r for r in _rows(workspace) if r[1] == "down")[4] == 1
    assert not service.due(workspace, anchors=anchors)
    # On demand it is tried now, and waits twice as long after a second failure.
    again = {r["name"]: r for r in service.run(workspace, anchors=anchors)}["down"]
    assert again["attempts"] == 2 and again["retry_at"] > first_retry
    assert service.backoff(1) == timedelta(seconds=30)
    assert service.backoff(2) == timedelta(seconds=60)
    assert service.backoff(40) == timedelta(hours=6)
    st = {r["name"]: r for r in service.status(workspace, anchors=anchors)}
    assert st["down"]["last_error"] == "AnchorError: gate down is down"
    assert st["down"]["anchored_size"] is None and st["down"]["pending_entries"] == size
    # Back up: it catches up with the newest checkpoint.
    (down / "down").unlink()
    new = _grow(workspace, 1)
    caught = {r["name"]: r for r in service.run(workspace, anchors=anchors)}["down"]
    assert caught["status"] == "confirmed" and caught["size"] == new
    st = {r["name"]: r for r in service.status(workspace, anchors=anchors)}
    assert st["down"]["last_error"] is None and st["down"]["pending_entries"] == 0


def _sent(ws: Workspace, name: str) -> None:
    """What a process killed right after sending leaves: a ``sent`` row."""
    latest = ws.ledger().latest_checkpoint()
    with ws.engine.begin() as conn:
        conn.execute(
            insert(ANCHOR_RECORDS),
            {
                "kind": "gate",
                "name": name,
                "tree_size": latest.size,
                "root_hash": latest.root,
                "note": latest.note,
                "status": "sent",
                "attempts": 0,
                "created_at": now(),
                "updated_at": now(),
            },
        )


def test_killed_between_sent_and_recorded_is_found_again_or_resent(
    workspace: Workspace, tmp_path: Path
) -> None:
    size = _grow(workspace, 2)
    folder = tmp_path / "gates"
    anchors = service.build(workspace, table=TABLE, entries=gate_entries(folder, "a", "b"))
    gate_a = next(c.anchor for c in anchors if c.name == "a")
    assert gate_a is not None
    _sent(workspace, "a")
    gate_a.anchor(workspace.ledger().latest_checkpoint().checkpoint)  # sent, never recorded
    _sent(workspace, "b")  # killed before the anchor was reached
    assert service.status(workspace, anchors=anchors)[1]["status"] == "sent"
    results = {r["name"]: r for r in service.run(workspace, anchors=anchors)}
    assert results["a"]["status"] == results["b"]["status"] == "confirmed"
    # a was found again (sent once), b sent now: one send and one row each.
    assert (folder / "sends.log").read_text().split() == [str(size), str(size)]
    assert [r for r in _rows(workspace) if r[0] == "gate"] == [
        ("gate", "a", size, "confirmed", 0),
        ("gate", "b", size, "confirmed", 0),
    ]
    with workspace.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ANCHOR_RECORDS)).scalar() == 3


def test_an_anchor_that_cannot_be_built_is_recorded_as_failed(
    workspace: Workspace, tmp_path: Path
) -> None:
    _grow(workspace, 1)
    anchors = service.build(
        workspace, table=TABLE, entries={"gate": {"x": {"folder": "x"}}, "nope": {"y": {}}}
    )
    results = service.run(workspace, anchors=anchors)
    assert [r["error"] for r in results] == [
        "AnchorError: a gate anchor's options.folder is a path",
        "AnchorError: unknown anchor kind 'nope' (known: ledger, gate)".replace(
            "ledger, gate", ", ".join(TABLE)
        ),
    ]


def test_key_files_must_be_private(workspace: Workspace, tmp_path: Path) -> None:
    key = tmp_path / "evm.key"
    key.write_text("00" * 32)
    os.chmod(key, 0o644)
    with pytest.raises(ConfigError, match=re.escape("mode 644")) as info:
        service.check_secret(key, "anchors.evm.main.key_file")
    assert "00" * 32 not in str(info.value)
    os.chmod(key, 0o600)
    service.check_secret(key, "anchors.evm.main.key_file")


def test_configuration_of_the_anchors_section(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "anchors:\n  every_seconds: 5\n  tsa:\n    main: {url: 'http://127.0.0.1:9/',"
        " ca_file: tsa/ca.pem}\n  kinds: [ledger]\n",
        encoding="utf-8",
    )
    s = load_settings(path, env={})
    assert s.anchors.every_seconds == 5
    assert s.anchors.tsa["main"].ca_file == tmp_path / "tsa" / "ca.pem"
    assert s.anchors.entries() == {}  # listed kinds run; the TSA entry is kept but idle
    path.write_text("anchors:\n  every_seconds: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"anchors\.every_seconds"):
        load_settings(path, env={})
    path.write_text(
        "anchors:\n  kinds: [ledger]\n  witnesses:\n    'a b': {url: u, vkey: k}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="an anchor name has 1-64 characters, no spaces"):
        load_settings(path, env={})


def test_the_pipeline_hook_anchors_when_due_and_never_raises(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    from copyseal.pipeline import anchor_if_due

    size = _grow(workspace, 2)
    anchor_if_due(workspace)
    assert [r[2:4] for r in _rows(workspace)] == [(size, "confirmed")]
    # A workspace whose key is readable by others cannot anchor: logged, not raised.
    key = workspace.settings.workspace.signing_key
    os.chmod(key, 0o644)
    fresh = Workspace.open(workspace.settings)
    try:
        with workspace.engine.begin() as conn:
            conn.execute(update(ANCHOR_RECORDS).values(updated_at=now() - timedelta(hours=1)))
        _grow(workspace, 1)
        with caplog.at_level("WARNING", logger="copyseal.pipeline"):
            anchor_if_due(fresh)
        assert "anchoring skipped" in caplog.text
    finally:
        os.chmod(key, 0o600)
        fresh.close()


def _self_signed_ca(path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "copyseal test CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now() - timedelta(days=1))
        .not_valid_after(now() + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_a_configured_tsa_that_is_down_is_retried_and_others_go_on(
    workspace_settings: Settings, tmp_path: Path
) -> None:
    """A real RFC 3161 anchor from the configuration, pointed at a closed loopback port."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert workspace_settings.source is not None
    folder = workspace_settings.source.parent
    _self_signed_ca(folder / "tsa-ca.pem")
    config = workspace_settings.source.read_text(encoding="utf-8") + (
        f"anchors:\n  every_seconds: 60\n  tsa:\n    down:\n"
        f"      url: 'http://127.0.0.1:{port}/'\n      ca_file: tsa-ca.pem\n"
    )
    workspace_settings.source.write_text(config, encoding="utf-8")
    settings = load_settings(workspace_settings.source, env={})
    assert settings.anchors.kinds == ["ledger", "rfc3161"]
    ws = Workspace.open(settings)
    try:
        size = _grow(ws, 3)
        results = {r["kind"]: r for r in service.run(ws)}
        assert results["ledger"]["status"] == "confirmed"
        assert results["rfc3161"]["status"] == "failed" and results["rfc3161"]["attempts"] == 1
        assert results["rfc3161"]["error"].startswith("AnchorError: ")
        assert "down" in results["rfc3161"]["error"]  # the TSA is named
        st = {r["kind"]: r for r in service.status(ws)}
        assert st["rfc3161"]["anchored_size"] is None
        assert st["rfc3161"]["pending_entries"] == size
        assert st["rfc3161"]["last_error"] == results["rfc3161"]["error"]
        assert not service.due(ws)  # anchored just now; the TSA waits out its back-off
    finally:
        ws.close()
