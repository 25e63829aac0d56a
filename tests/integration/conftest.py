from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    """Run the real ``copyseal`` command (a new process) from an unrelated folder."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir(exist_ok=True)

    def _run(
        *args: str, env: dict[str, str] | None = None, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("COPYSEAL_")}
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "copyseal", *args],
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=True,
            input=input,
            timeout=120,
            check=False,
        )

    return _run
