"""``copyseal users purge-attempts``: deletes old login attempts, JSON contract, limits."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from copyseal.cli import main
from copyseal.config import Settings
from copyseal.db.schema.review import LoginAttempt
from copyseal.times import now
from copyseal.workspace import Workspace


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
    finally:
        # Each in-process run configures logging afresh; close the previous log file.
        log = logging.getLogger("copyseal")
        for handler in log.handlers:
            handler.close()
        log.handlers.clear()
    out = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), out.out, out.err


def _count(settings: Settings) -> int:
    ws = Workspace.open(settings)
    try:
        with Session(ws.engine) as s:
            return int(s.scalar(select(func.count()).select_from(LoginAttempt)) or 0)
    finally:
        ws.close()


def test_purge_attempts(workspace_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    ws = Workspace.open(workspace_settings)
    try:
        at = now()
        with Session(ws.engine) as s, s.begin():
            s.add_all(
                LoginAttempt(name="x", remote="r", ok=False, attempted_at=at - timedelta(days=d))
                for d in (0, 3, 10, 45)
            )
    finally:
        ws.close()
    assert workspace_settings.source is not None
    config = str(workspace_settings.source)
    code, out, err = run(capsys, "--config", config, "users", "purge-attempts", "--json")
    assert code == 0, err
    assert json.loads(out) == {"deleted": 1, "older_than_days": 30}
    code, out, err = run(capsys, "--config", config, "users", "purge-attempts", "--older-than", "7")
    assert code == 0 and "deleted 1 login attempt(s) older than 7 day(s)" in out, err
    assert _count(workspace_settings) == 2
    code, _, err = run(capsys, "--config", config, "users", "purge-attempts", "--older-than", "0")
    assert code == 2 and "--older-than" in err
    assert _count(workspace_settings) == 2
