"""Conventions every command follows.

- ``--json`` prints exactly one JSON document on stdout and nothing else there; logs and
  progress go to stderr.
- Human output is a rich table (or plain lines) on stdout.
- A :class:`~copyseal.errors.CopysealError` becomes one line ``error: ...`` on stderr and
  the error's exit code; ``--debug`` shows the traceback instead.

A command gets the application context with ``@pass_app`` and opens the workspace with
``app.workspace()``. Typical shape::

    @click.command()
    @json_option
    @pass_app
    def status(app: App, as_json: bool) -> None:
        result = library_call(app.workspace())
        emit(app, result_dict, as_json=as_json, human=lambda console: console.print(...))
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console

if TYPE_CHECKING:
    # Imported when a command first needs them: `copyseal --version` and `--help` then
    # never load pydantic, SQLAlchemy or Alembic (about 0.4 s of a 0.6 s start-up,
    # measured with `python -X importtime` on the 2-core development machine).
    from copyseal.config import Settings
    from copyseal.workspace import Workspace

__all__ = [
    "App",
    "emit",
    "json_option",
    "network_options",
    "pass_app",
    "stderr_console",
    "stdout_console",
]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(kw_only=True)
class App:
    """What the top-level options decided, and the lazily opened workspace."""

    config_path: Path | None
    overrides: tuple[str, ...] = ()
    debug: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _workspace: Workspace | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        """Load and validate the configuration once; configures logging too."""
        if self._settings is None:
            from copyseal._logging import configure_logging
            from copyseal.config import load_settings

            self._settings = load_settings(self.config_path, overrides=self.overrides)
            log = self._settings.logging
            configure_logging(
                level=log.level,
                file=log.file,
                max_bytes=log.max_bytes,
                backups=log.backups,
                debug=self.debug,
            )
        return self._settings

    def workspace(self) -> Workspace:
        """The workspace the configuration describes."""
        if self._workspace is None:
            from copyseal.workspace import Workspace

            self._workspace = Workspace.open(self.settings())
        return self._workspace

    def close(self) -> None:
        if self._workspace is not None:
            self._workspace.close()


pass_app = click.make_pass_decorator(App)


def json_option(f: F) -> F:
    """Add ``--json`` (stored as ``as_json``)."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON document on stdout."
    )(f)


def network_options(*, private_default: bool | None = False) -> Callable[[F], F]:
    """Add ``--allow-private`` and ``--allow-network CIDR`` (repeatable, stored as
    ``allow_networks``): the address policy's allow lists, alike on every command that
    fetches pages (``copyseal.netpolicy``). ``private_default`` None lets a command tell
    "not given" from "off" (a target's own setting then applies)."""

    def wrap(f: F) -> F:
        f = click.option(
            "--allow-network",
            "allow_networks",
            multiple=True,
            metavar="CIDR",
            help="Allow this network although not public, e.g. 10.20.0.0/16 (repeatable).",
        )(f)
        return click.option(
            "--allow-private",
            is_flag=True,
            default=private_default,
            help="Allow private/loopback addresses (local test sites only).",
        )(f)

    return wrap


def stdout_console() -> Console:
    # Piped output keeps whole ids and times instead of wrapping at 80 columns.
    return Console(width=None if sys.stdout.isatty() else 160)


def stderr_console() -> Console:
    return Console(stderr=True)


def default_config_path() -> Path:
    """``$COPYSEAL_CONFIG`` or ``./config.yaml``."""
    return Path(os.environ.get("COPYSEAL_CONFIG") or "config.yaml")


def emit(
    app: App,
    data: Any,
    *,
    as_json: bool,
    human: Callable[[Console], None],
) -> None:
    """Print ``data`` as one JSON document, or call ``human`` with a stdout console."""
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n")
        sys.stdout.flush()
    else:
        human(stdout_console())
