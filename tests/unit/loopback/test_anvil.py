"""Finding anvil: the newest ``.cache/anvil-*/anvil``, or an error that names the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from copyseal.errors import CopysealError
from copyseal.loopback import LoopbackError, anvil_binary, require_anvil


def test_the_newest_installed_anvil_is_found(tmp_path: Path) -> None:
    for version in ("1.6.0", "1.7.1"):
        binary = tmp_path / ".cache" / f"anvil-{version}" / "anvil"
        binary.parent.mkdir(parents=True)
        binary.write_bytes(b"")
    assert anvil_binary(tmp_path) == tmp_path / ".cache" / "anvil-1.7.1" / "anvil"
    assert require_anvil(tmp_path) == anvil_binary(tmp_path)


def test_a_missing_anvil_says_to_run_make_setup(tmp_path: Path) -> None:
    (tmp_path / ".cache" / "anvil-1.7.1").mkdir(parents=True)  # a folder, no binary
    assert anvil_binary(tmp_path) is None
    with pytest.raises(LoopbackError, match=r"not installed: run 'make setup'"):
        require_anvil(tmp_path)
    assert issubclass(LoopbackError, CopysealError)
