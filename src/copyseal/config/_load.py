"""Reading, merging and validating the configuration (see :mod:`copyseal.config`)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    ValidationError,
)

from copyseal.config._base import NamedKeyError
from copyseal.config._sections import Settings
from copyseal.errors import ConfigError

__all__ = ["ENV_LEVEL", "ENV_PREFIX", "load_settings"]

ENV_PREFIX = "COPYSEAL_"
#: Separates levels in an environment variable's name (``COPYSEAL_DATABASE__URL``).
ENV_LEVEL = "__"

log = logging.getLogger(__name__)


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any, origin: str) -> None:
    parts = dotted.split(".")
    if not all(parts):
        raise ConfigError(f"{origin}: '{dotted}' is not a valid key")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{origin}: '{dotted}': '{part}' is not a section")
        node = child
    node[parts[-1]] = value


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(
            f"{path}: configuration file not found (run 'copyseal init DIR' or pass --config)"
        ) from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read configuration file ({e})") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of sections, not {type(data).__name__}"
        )
    return data


def _sections() -> frozenset[str]:
    return frozenset(
        name for name, field in Settings.model_fields.items() if field.exclude is not True
    )


def _from_env(env: Mapping[str, str], tree: dict[str, Any], origins: dict[str, str]) -> None:
    """Apply the ``COPYSEAL_<SECTION>__<KEY>`` variables of ``env`` to ``tree``.

    A name with the prefix but not that form is not a setting (a wrapper's own variable):
    it is skipped. ``origins`` records, per dotted key, the variable that set it.
    """
    sections = _sections()
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        section, sep, rest = name[len(ENV_PREFIX) :].partition(ENV_LEVEL)
        if not sep or section.lower() not in sections:
            log.debug("%s is not a setting (not COPYSEAL_<SECTION>__<KEY>): ignored", name)
            continue
        dotted = f"{section}.{rest.replace(ENV_LEVEL, '.')}".lower()
        try:
            value = yaml.safe_load(raw) if raw else raw
        except yaml.YAMLError:
            value = raw
        origin = f"environment variable {name}={json.dumps(raw)}"
        _set_dotted(tree, dotted, value, origin)
        origins[dotted] = origin


def _origin_of(loc: Sequence[str | int], origins: Mapping[str, str], default: str) -> str:
    """Where the value at ``loc`` came from: the longest key prefix set by a variable or a
    flag, else ``default`` (the file, or the defaults)."""
    parts = [str(p) for p in loc]
    for n in range(len(parts), 0, -1):
        origin = origins.get(".".join(parts[:n]))
        if origin is not None:
            return origin
    return default


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    def fix(p: Path) -> Path:
        p = p.expanduser()
        return p if p.is_absolute() else (base / p)

    ws = settings.workspace
    updates: dict[str, Any] = {
        "workspace": ws.model_copy(
            update={"evidence_dir": fix(ws.evidence_dir), "signing_key": fix(ws.signing_key)}
        ),
        "crawl": settings.crawl.model_copy(
            update={"browser_executable": fix(settings.crawl.browser_executable)}
        ),
    }
    anchors = settings.anchors
    if anchors.evm or anchors.tsa:
        updates["anchors"] = anchors.model_copy(
            update={
                "evm": {
                    n: e.model_copy(update={"key_file": fix(e.key_file)})
                    for n, e in anchors.evm.items()
                },
                "tsa": {
                    n: e.model_copy(update={"ca_file": fix(e.ca_file)})
                    for n, e in anchors.tsa.items()
                },
            }
        )
    if settings.logging.file is not None:
        updates["logging"] = settings.logging.model_copy(
            update={"file": fix(settings.logging.file)}
        )
    url = settings.database.url
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        updates["database"] = settings.database.model_copy(
            update={"url": prefix + str(fix(Path(url[len(prefix) :])))}
        )
    return settings.model_copy(update=updates)


def _describe(error: ValidationError, file_origin: str, origins: Mapping[str, str]) -> str:
    first = error.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    if first["type"] == "extra_forbidden":
        return f"{_origin_of(key.split('.'), origins, file_origin)}: unknown key '{key}'"
    value = first.get("input")
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, NamedKeyError):
        key, value = f"{key}.{cause.key}" if key else cause.key, cause.value
    path = _origin_of(key.split("."), origins, file_origin)
    shown = json.dumps(value, default=str) if not isinstance(value, dict) else "a mapping"
    message = first["msg"].removeprefix("Value error, ")
    return f"{path}: key '{key}' = {shown}: {message}"


def load_settings(
    path: Path | None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Sequence[str] = (),
) -> Settings:
    """Read, merge and validate the configuration.

    Args:
        path: The YAML file; ``None`` means built-in defaults with the current folder as base.
        env: The environment to read ``COPYSEAL_*`` keys from (default: ``os.environ``).
        overrides: ``key.sub=value`` strings from the command line (values parsed as YAML).

    Raises:
        ConfigError: naming the file (or variable or flag), the key and the value.
    """
    env = os.environ if env is None else env
    tree: dict[str, Any] = {}
    origin = "defaults"
    base = Path.cwd()
    if path is not None:
        path = path.expanduser().resolve()
        tree = _read_file(path)
        origin = str(path)
        base = path.parent
    origins: dict[str, str] = {}
    _from_env(env, tree, origins)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item}: expected KEY=VALUE")
        try:
            value = yaml.safe_load(raw) if raw else raw
        except yaml.YAMLError:
            value = raw
        _set_dotted(tree, key.strip(), value, f"--set {item}")
        origins[key.strip()] = f"--set {item}"
    try:
        settings = Settings.model_validate(tree)
    except ValidationError as e:
        raise ConfigError(_describe(e, origin, origins)) from e
    settings = settings.model_copy(update={"source": path, "base_dir": base})
    return _resolve_paths(settings, base)
