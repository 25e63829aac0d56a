"""``anchors.kinds``: the configuration key that chooses the anchors."""

from __future__ import annotations

from pathlib import Path

import pytest

from copyseal.anchors import DEFAULT_KINDS
from copyseal.config import load_settings
from copyseal.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_default_is_the_ledgers_own_anchor(tmp_path: Path) -> None:
    assert load_settings(None, env={}).anchors.kinds == list(DEFAULT_KINDS) == ["ledger"]
    path = _write(tmp_path, "anchors:\n  kinds: [ledger]\n")
    assert load_settings(path, env={}).anchors.kinds == ["ledger"]
    env = {"COPYSEAL_ANCHORS__KINDS": "[ledger]"}
    assert load_settings(None, env=env).anchors.kinds == ["ledger"]


@pytest.mark.parametrize(
    ("kinds", "message"),
    [
        (
            "[ledger, nope]",
            r"key 'anchors.kinds' = .*unknown anchor kind 'nope' \(known: [a-z0-9, ]*ledger",
        ),
        ("[]", "must include 'ledger'"),
        ("[ledger, ledger]", "listed once"),
        ("ledger", "valid list"),
    ],
)
def test_a_bad_list_names_the_key_and_where_it_came_from(
    tmp_path: Path, kinds: str, message: str
) -> None:
    path = _write(tmp_path, f"anchors:\n  kinds: {kinds}\n")
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(path, env={})
    assert str(path) in str(info.value)
    with pytest.raises(ConfigError, match="COPYSEAL_ANCHORS__KINDS"):
        load_settings(None, env={"COPYSEAL_ANCHORS__KINDS": kinds})


def test_unknown_keys_in_the_section_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'anchors\.kind'"):
        load_settings(_write(tmp_path, "anchors:\n  kind: ledger\n"), env={})
