from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from copyseal.errors import WorkspaceError
from copyseal.keys import create_signing_key, load_signing_key, load_verify_key, public_key_path


def test_created_key_is_private_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.key"
    key = create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert bytes(load_signing_key(path)) == bytes(key)
    assert bytes(load_verify_key(public_key_path(path))) == bytes(key.verify_key)
    signed = key.sign(b"evidence")
    assert load_verify_key(public_key_path(path)).verify(signed) == b"evidence"


def test_two_keys_differ(tmp_path: Path) -> None:
    assert bytes(create_signing_key(tmp_path / "a.key")) != bytes(
        create_signing_key(tmp_path / "b.key")
    )


def test_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    key = create_signing_key(path)
    with pytest.raises(WorkspaceError, match="already exists"):
        create_signing_key(path)
    assert bytes(load_signing_key(path)) == bytes(key)


def test_refuses_a_key_readable_by_others(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    create_signing_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(WorkspaceError, match="mode 644"):
        load_signing_key(path)


def test_garbage_key_error_does_not_echo_the_content(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    path.write_text("c2VjcmV0LXNlY3JldA==\n")
    os.chmod(path, 0o600)
    with pytest.raises(WorkspaceError, match="not a copyseal signing key") as info:
        load_signing_key(path)
    assert "c2VjcmV0" not in str(info.value)
