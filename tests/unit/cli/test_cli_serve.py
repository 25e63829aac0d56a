"""``copyseal serve --forwarded-allow-ips``: checked like its config key; and the umask the
command runs with is the caller's again afterwards (in-process callers such as tests)."""

from __future__ import annotations

import os

import pytest

from copyseal.cli import main


def test_a_bad_trusted_proxy_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    before = os.umask(0o022)
    try:
        with pytest.raises(SystemExit) as done:
            main(["serve", "--forwarded-allow-ips", "127.0.0.1,not-an-address"])
        assert done.value.code == 2
        err = capsys.readouterr().err
        assert "--forwarded-allow-ips" in err and "'not-an-address' is not an address" in err
        assert os.umask(0o022) == 0o022  # restored after the command
    finally:
        os.umask(before)
