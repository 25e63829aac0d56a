"""Capture environment facts: packages, browser binary hash, OS, proxies, clock."""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

import pytest

from copyseal.capture import _environment as env


def test_package_versions_cover_declared_dependencies() -> None:
    versions = env.package_versions()
    for name in ("click", "playwright", "pydantic", "warcio", "wacz"):
        assert versions[name], name
    assert "pytest" not in versions  # test extras are not the capture's dependencies


def test_software_facts_name_copyseal_and_python() -> None:
    from copyseal import __version__

    facts = env.software_facts()
    assert facts["copyseal"] == __version__
    assert re.fullmatch(r"3\.\d+\.\d+", facts["python"])


def _fake_browser(tmp_path: Path) -> tuple[Path, Path]:
    libdir = tmp_path / "lib" / "fakium"
    libdir.mkdir(parents=True)
    binary = libdir / "fakium"
    binary.write_bytes(b"\x7fELF not really a browser")
    binary.chmod(0o755)
    wrapper = tmp_path / "bin" / "fakium"
    wrapper.parent.mkdir()
    wrapper.write_text(
        "#!/bin/sh\n"
        "APPNAME=fakium\n"
        f"LIBDIR={tmp_path}/lib/$APPNAME\n"
        'if [ "$1" = x ]; then echo hi; fi\n'
        'exec $LIBDIR/$APPNAME $FLAGS "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper, binary


def test_browser_binary_hashes_the_real_binary_behind_a_wrapper(tmp_path: Path) -> None:
    wrapper, binary = _fake_browser(tmp_path)
    link = tmp_path / "chromium"
    link.symlink_to(wrapper)
    facts = env.browser_binary(link)
    assert facts["resolved"] == str(wrapper)
    assert facts["hashed_file"] == str(binary)
    assert facts["sha256"] == hashlib.sha256(binary.read_bytes()).hexdigest()
    assert facts["wrapper_sha256"] == hashlib.sha256(wrapper.read_bytes()).hexdigest()
    assert "wrapper" in facts["note"]


def test_browser_binary_without_wrapper_and_missing(tmp_path: Path) -> None:
    _, binary = _fake_browser(tmp_path)
    facts = env.browser_binary(binary)
    assert facts["hashed_file"] == str(binary)
    assert "wrapper_sha256" not in facts
    missing = env.browser_binary(tmp_path / "nope")
    assert "cannot resolve" in missing["error"]


def test_hash_is_recomputed_when_the_file_changes(tmp_path: Path) -> None:
    f = tmp_path / "b"
    f.write_bytes(b"one")
    first = env.hash_file(f)
    f.write_bytes(b"two!")
    os.utime(f, ns=(time.time_ns(), time.time_ns() + 10_000))
    assert env.hash_file(f) != first
    assert env.hash_file(f) == hashlib.sha256(b"two!").hexdigest()


def test_os_facts() -> None:
    facts = env.os_facts()
    assert facts["system"] == "Linux"
    assert facts["os_release"].get("ID")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("http://user:secret@proxy.test:3128", "http://***:***@proxy.test:3128"),
        ("http://proxy.test:3128", "http://proxy.test:3128"),
        ("user:pw@proxy.test:8080", "***:***@proxy.test:8080"),
        ("socks5://only-user@proxy.test", "socks5://***:***@proxy.test"),
    ],
)
def test_redact_url(value: str, shown: str) -> None:
    assert env.redact_url(value) == shown
    assert "secret" not in env.redact_url(value)


def test_proxy_settings_redact_credentials() -> None:
    facts = env.proxy_settings(
        {
            "HTTPS_PROXY": "http://u:p4ss@proxy.test:3128",
            "no_proxy": "localhost,127.0.0.1",
            "PATH": "/bin",
        }
    )
    assert facts["environment"] == {
        "HTTPS_PROXY": "http://***:***@proxy.test:3128",
        "no_proxy": "localhost,127.0.0.1",
    }
    assert facts["browser_proxy"] is None


def test_clock_without_ntp() -> None:
    before = time.time()
    facts = env.clock_facts(None)
    assert facts["ntp"] is None
    assert before <= facts["unix_time"] <= time.time()
    assert facts["system_utc"].endswith("Z")


def test_clock_with_an_unreachable_ntp_server_records_the_error() -> None:
    facts = env.clock_facts("127.0.0.1:9", timeout=0.3)
    assert facts["ntp"]["server"] == "127.0.0.1:9"
    assert "127.0.0.1:9" in facts["ntp"]["error"]
