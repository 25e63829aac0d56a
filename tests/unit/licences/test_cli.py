"""``copyseal licences grant|list|revoke``: the JSON contract and clear errors."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from copyseal.cli import main
from copyseal.config import Settings
from copyseal.db.models import Work
from copyseal.workspace import Workspace

WORK = "w" + "c" * 20
KEYS = {
    "licence_id", "work_id", "licensee", "domains", "url_patterns", "valid_from",
    "valid_until", "territory", "terms_sha256", "source", "buyer", "tx_hash",
    "ledger_index", "revoked_at",
}  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
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


@pytest.fixture
def config(workspace_settings: Settings) -> str:
    ws = Workspace.open(workspace_settings)
    try:
        with Session(ws.engine) as s, s.begin():
            s.add(
                Work(
                    work_id=WORK,
                    sha256="c" * 64,
                    size=1,
                    width=1,
                    height=1,
                    format="JPEG",
                    registered_at=datetime(2026, 1, 1, tzinfo=UTC),
                )
            )
    finally:
        ws.close()
    assert workspace_settings.source is not None
    return str(workspace_settings.source)


def test_grant_list_revoke_json(
    config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    terms = tmp_path / "terms.txt"
    terms.write_text("editorial use only\n", encoding="utf-8")
    code, out, err = run(
        capsys, "--config", config, "licences", "grant", WORK, "--licensee", "Acme",
        "--domain", "acme.example", "--url-pattern", "https://cdn.example/acme/*",
        "--from", "2026-02-01", "--until", "2026-02-28", "--territory", "FR",
        "--terms-file", str(terms), "--json",
    )  # fmt: skip
    assert code == 0, err
    granted = json.loads(out)
    assert set(granted) == KEYS
    assert granted["domains"] == ["acme.example"]
    assert granted["url_patterns"] == ["https://cdn.example/acme/*"]
    assert granted["valid_from"] == "2026-02-01T00:00:00+00:00"
    assert granted["valid_until"] == "2026-03-01T00:00:00+00:00"
    assert (granted["source"], granted["buyer"], granted["revoked_at"]) == ("grant", None, None)
    assert len(granted["terms_sha256"]) == 64 and isinstance(granted["ledger_index"], int)

    code, out, err = run(capsys, "--config", config, "licences", "list", "--json")
    assert code == 0, err
    assert json.loads(out) == [granted]
    code, out, _ = run(capsys, "--config", config, "licences", "--work", "wnone", "--json")
    assert json.loads(out) == []

    code, out, err = run(
        capsys, "--config", config, "licences", "revoke", granted["licence_id"],
        "--reason", "contract ended", "--json",
    )  # fmt: skip
    assert code == 0, err
    revoked = json.loads(out)
    assert set(revoked) == KEYS and revoked["revoked_at"] is not None
    assert revoked["ledger_index"] == granted["ledger_index"]

    code, out, _ = run(capsys, "--config", config, "licences", "list")
    assert code == 0 and granted["licence_id"] in out and "revoked" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--licensee", "A", "--domain", "a.example", "--from", "2026-05-01",
          "--until", "2026-04-01"], "before it starts"),
        (["--licensee", "", "--domain", "a.example"], "needs a licensee"),
        (["--licensee", "A"], "at least one --domain or --url-pattern"),
        (["--licensee", "A", "--domain", "a.example", "--until", "soon"], "'soon' is not a date"),
    ],
)  # fmt: skip
def test_bad_grants_name_the_input(
    config: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, "--config", config, "licences", "grant", WORK, *args)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and message in err


def test_unknown_work_and_licence(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys, "--config", config, "licences", "grant", "wmissing", "--licensee", "A",
        "--domain", "a.example",
    )  # fmt: skip
    assert code == 1 and "no work 'wmissing'" in err
    code, _, err = run(
        capsys, "--config", config, "licences", "revoke", "lmissing", "--reason", "x"
    )
    assert code == 1 and "no licence 'lmissing'" in err
