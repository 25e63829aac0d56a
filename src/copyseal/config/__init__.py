"""Settings: one model, one merge order, validated once.

Merge order (later wins): built-in defaults < the YAML file < ``COPYSEAL_*`` environment
variables < command-line overrides. The result is a frozen :class:`Settings`. Relative
paths in the file (and in a ``sqlite:///`` URL) are resolved against the file's folder, so
a workspace works from any current directory.

Environment variables are settings exactly when they have the form
``COPYSEAL_<SECTION>__<KEY>`` (``__`` between levels, the first level a section of
:class:`Settings`): ``COPYSEAL_DATABASE__URL=postgresql+psycopg://...`` sets
``database.url``. Any other ``COPYSEAL_*`` name (a wrapper script's ``COPYSEAL_BIN``,
``COPYSEAL_CONFIG``) is not a setting and is ignored (logged at debug level). Values are
parsed as YAML scalars (``COPYSEAL_MATCH__MAX_PIXELS=5000000`` is an integer).
Command-line overrides use the dotted form: ``--set database.url=...``. An invalid value
is reported against where it came from: the variable with its value, the flag, or the file.
"""

from __future__ import annotations

from copyseal.config._anchors import (
    ANCHOR_SECTIONS,
    AnchorsSettings,
    EvmAnchorSettings,
    TsaSettings,
    WitnessSettings,
)
from copyseal.config._base import NamedKeyError
from copyseal.config._crawl import CrawlSchedule, CrawlSettings, CrawlTarget
from copyseal.config._load import ENV_LEVEL, ENV_PREFIX, load_settings
from copyseal.config._sections import (
    CaptureSettings,
    DatabaseSettings,
    LedgerSettings,
    LoggingSettings,
    MatchSettings,
    Settings,
    WebSettings,
    WorkspaceSettings,
)

__all__ = [
    "ANCHOR_SECTIONS",
    "ENV_LEVEL",
    "ENV_PREFIX",
    "AnchorsSettings",
    "CaptureSettings",
    "CrawlSchedule",
    "CrawlSettings",
    "CrawlTarget",
    "DatabaseSettings",
    "EvmAnchorSettings",
    "LedgerSettings",
    "LoggingSettings",
    "MatchSettings",
    "NamedKeyError",
    "Settings",
    "TsaSettings",
    "WebSettings",
    "WitnessSettings",
    "WorkspaceSettings",
    "load_settings",
]
