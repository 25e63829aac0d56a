"""The capture environment: software, browser binary, OS, proxies, configuration and clock.

These facts answer "was the capture environment clean and reliable?": which copyseal and
libraries ran, which browser binary (by SHA-256) rendered the page, on which OS, through
which proxy, with which configuration, and how far the clock was from true time when an
NTP server was configured.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import re
import socket
import sys
import time
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from copyseal.capture import _sntp

__all__ = [
    "browser_binary",
    "clock_facts",
    "os_facts",
    "package_versions",
    "proxy_settings",
    "redact_url",
    "software_facts",
]

#: Libraries whose versions matter to a capture even if copyseal does not declare them.
_ALSO = ("playwright", "warcio", "wacz", "cryptography", "pillow")
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy")
_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def package_versions(root: str = "copyseal") -> dict[str, str | None]:
    """Installed versions of ``root``'s declared dependencies (extras excluded) and a few more."""
    names: list[str] = []
    try:
        requires = importlib.metadata.requires(root) or []
    except importlib.metadata.PackageNotFoundError:
        requires = []
    for req in requires:
        if "extra ==" in req:
            continue
        m = _REQ_NAME.match(req)
        if m:
            names.append(m.group(1))
    names.extend(_ALSO)
    out: dict[str, str | None] = {}
    for name in sorted(set(names), key=str.lower):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def software_facts() -> dict[str, Any]:
    from copyseal import __version__

    return {
        "copyseal": __version__,
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "packages": package_versions(),
    }


def _is_script(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"#!"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=8)
def _hash_cached(path: str, size: int, mtime_ns: int, inode: int) -> str:
    return _sha256_file(Path(path))


def hash_file(path: Path) -> str:
    """SHA-256 of a file, remembered per (path, size, mtime, inode) for this process."""
    st = path.stat()
    return _hash_cached(str(path), st.st_size, st.st_mtime_ns, st.st_ino)


def _expand(text: str, variables: dict[str, str]) -> str:
    for _ in range(4):  # nested assignments such as LIBDIR=/usr/lib/$APPNAME
        text = re.sub(r"\$\{?(\w+)\}?", lambda m: variables.get(m.group(1), m.group(0)), text)
    return text


def _real_binary(script: Path) -> Path | None:
    """The browser binary a wrapper script execs (Debian: ``/usr/lib/chromium/chromium``)."""
    text = script.read_text(encoding="utf-8", errors="replace")
    variables: dict[str, str] = {}
    for name, value in re.findall(r"^\s*(\w+)=[\"']?([^\"'\s;]+)", text, re.MULTILINE):
        variables.setdefault(name, value)
    candidates = [
        Path(_expand(target, variables))
        for target in re.findall(r"^\s*exec\s+(\S+)", text, re.MULTILINE)
    ]
    for c in candidates:
        try:
            c = c.resolve()
            if c.is_file() and os.access(c, os.X_OK) and not _is_script(c):
                return c
        except OSError:
            continue
    return None


def browser_binary(executable: Path) -> dict[str, Any]:
    """Which file is the browser, and its SHA-256 (the wrapper's too when there is one)."""
    facts: dict[str, Any] = {"executable": str(executable)}
    try:
        resolved = executable.resolve(strict=True)
    except OSError as e:
        facts["error"] = f"cannot resolve {executable}: {e}"
        return facts
    facts["resolved"] = str(resolved)
    hashed = resolved
    if _is_script(resolved):
        facts["wrapper_sha256"] = hash_file(resolved)
        real = _real_binary(resolved)
        if real is None:
            facts["note"] = "the executable is a script and its binary was not found: hashed it"
        else:
            hashed = real
            facts["note"] = f"{resolved} is a shell wrapper; the binary it starts was hashed"
    facts["hashed_file"] = str(hashed)
    facts["size"] = hashed.stat().st_size
    facts["sha256"] = hash_file(hashed)
    return facts


def os_facts() -> dict[str, Any]:
    release: dict[str, str] = {}
    for candidate in (Path("/etc/os-release"), Path("/usr/lib/os-release")):
        try:
            text = candidate.read_text(encoding="utf-8")
        except OSError:
            continue
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep and key and not key.startswith("#"):
                release[key] = value.strip().strip('"')
        break
    return {
        "platform": platform.platform(),
        "system": platform.system(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "hostname": socket.gethostname(),
        "os_release": {
            k: release[k] for k in ("PRETTY_NAME", "ID", "VERSION_ID", "VERSION") if k in release
        },
    }


def redact_url(value: str) -> str:
    """Hide the user and password of a proxy URL (``http://***:***@host:port``)."""
    try:
        parts = urlsplit(value if "://" in value else "http://" + value)
    except ValueError:
        return "<unparseable>"
    if parts.username is None and parts.password is None:
        return value
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    redacted = urlunsplit((parts.scheme, "***:***@" + host, parts.path, parts.query, ""))
    return redacted if "://" in value else redacted.split("://", 1)[1]


def proxy_settings(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Proxy variables in the environment (credentials redacted) and the browser's proxy."""
    env = dict(os.environ if environ is None else environ)
    found = {}
    for name, value in sorted(env.items()):
        if name.lower() in _PROXY_VARS and value:
            found[name] = value if name.lower() == "no_proxy" else redact_url(value)
    return {
        "environment": found,
        "browser_proxy": None,
        "note": "copyseal passes no proxy to the browser; Chromium may honour these variables",
    }


def clock_facts(ntp_server: str | None, *, timeout: float = 2.0) -> dict[str, Any]:
    """The system clock now (UTC) and, when a server is configured, its SNTP offset."""
    now = time.time()
    facts: dict[str, Any] = {
        "system_utc": datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z"),
        "unix_time": now,
        "timezone": time.strftime("%Z"),
        "ntp": None,
    }
    if ntp_server:
        try:
            facts["ntp"] = _sntp.query(ntp_server, timeout=timeout).to_json()
        except _sntp.SntpError as e:
            facts["ntp"] = {"server": ntp_server, "error": str(e)}
    return facts
