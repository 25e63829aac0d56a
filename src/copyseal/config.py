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

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from copyseal.errors import ConfigError

__all__ = ["ENV_PREFIX", "Settings", "load_settings"]

ENV_PREFIX = "COPYSEAL_"
#: Separates levels in an environment variable's name (``COPYSEAL_DATABASE__URL``).
ENV_LEVEL = "__"

log = logging.getLogger(__name__)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorkspaceSettings(_Section):
    """Where the workspace keeps its files."""

    #: The evidence store (bundles, exports and other artefacts): a folder, or a URL whose
    #: scheme :data:`copyseal.storage.STORES` lists (``file:///srv/evidence``).
    evidence_dir: Path = Path("evidence")
    #: The workspace's Ed25519 signing key (mode 0600); the public key sits beside it (.pub).
    signing_key: Path = Path("keys/signing.key")

    @field_validator("evidence_dir", mode="before")
    @classmethod
    def _evidence_store(cls, v: Any) -> Any:
        if isinstance(v, str):
            from copyseal.storage import local_folder

            return local_folder(v)
        return v


class DatabaseSettings(_Section):
    """The database: SQLite in the workspace by default, PostgreSQL by URL."""

    url: str = "sqlite:///copyseal.db"
    #: Apply pending Alembic migrations when a command opens the database.
    auto_migrate: bool = True

    @field_validator("url")
    @classmethod
    def _known_backend(cls, v: str) -> str:
        if not v.startswith(("sqlite://", "postgresql")):
            raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
        return v


class LedgerSettings(_Section):
    """The append-only Merkle ledger."""

    #: The log's origin line in checkpoints and the key name of its signed notes.
    origin: str = "copyseal.local/ledger"

    @field_validator("origin")
    @classmethod
    def _origin_ok(cls, v: str) -> str:
        if not v or any(c.isspace() for c in v) or "+" in v:
            raise ValueError("must be non-empty, without spaces or '+'")
        return v


class EvmAnchorSettings(_Section):
    """One EVM chain to anchor checkpoints on (``anchors.evm.NAME``, kind ``evm``)."""

    #: The node's JSON-RPC URL (Ethereum, an L2, or a consortium chain such as Besu).
    rpc_url: str
    #: The chain's EIP-155 id; transactions are signed for it and refused on another chain.
    chain_id: int = Field(gt=0)
    #: The sender's hex private key, in a file of mode 0600 (never in this file).
    key_file: Path
    #: The anchoring contract's address; null: the one ``copyseal anchors deploy NAME``
    #: deployed and the workspace remembers.
    contract: str | None = None
    #: Blocks to wait for on top of the anchoring transaction's block.
    confirmations: int = Field(default=0, ge=0)


class TsaSettings(_Section):
    """One RFC 3161 time-stamping authority (``anchors.tsa.NAME``, kind ``rfc3161``)."""

    #: The TSA's HTTP(S) URL (RFC 3161 §3.4: POST application/timestamp-query).
    url: str
    #: The PEM certificate(s) a token's signer must chain to.
    ca_file: Path


class WitnessSettings(_Section):
    """One C2SP tlog-witness (``anchors.witnesses.NAME``, kind ``witness``)."""

    #: The witness's base URL (``add-checkpoint`` is posted below it).
    url: str
    #: The witness's note verifier key (``name+keyid+key``), which its cosignatures use.
    vkey: str


#: The ``anchors`` sub-section that configures each anchor kind with several instances.
ANCHOR_SECTIONS: dict[str, str] = {"evm": "evm", "rfc3161": "tsa", "witness": "witnesses"}


def _anchor_name_problem(section: str, names: Iterable[str]) -> NamedKeyError | None:
    for name in names:
        if not name or len(name) > 64 or any(c.isspace() for c in name):
            return NamedKeyError(
                f"{section}.{name}", name, "an anchor name has 1-64 characters, no spaces"
            )
    return None


class AnchorsSettings(_Section):
    """Evidence anchors: what commits the ledger's checkpoints (see ``copyseal.anchors``)."""

    #: The anchor kinds that run, by their names in ``copyseal.anchors.ANCHORS``. Left out
    #: (or null): ``ledger`` plus every kind with an entry below (``evm``, ``rfc3161`` for
    #: ``tsa``, ``witness`` for ``witnesses``). Listing kinds explicitly runs only those
    #: (entries of other kinds are kept but idle). ``ledger``, the log's own signed
    #: checkpoint that every receipt and bundle carries, is always among them.
    kinds: list[str] = ["ledger"]
    #: Anchoring after appends runs at most this often (seconds); ``copyseal anchors run``
    #: anchors at once.
    every_seconds: int = Field(default=600, gt=0)
    #: EVM chains, by name (kind ``evm``).
    evm: dict[str, EvmAnchorSettings] = {}
    #: RFC 3161 time-stamping authorities, by name (kind ``rfc3161``).
    tsa: dict[str, TsaSettings] = {}
    #: C2SP tlog-witnesses, by name (kind ``witness``).
    witnesses: dict[str, WitnessSettings] = {}

    @model_validator(mode="before")
    @classmethod
    def _default_kinds(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("kinds") is None:
            data = dict(data)
            data["kinds"] = ["ledger"] + [
                kind for kind, section in ANCHOR_SECTIONS.items() if data.get(section)
            ]
        return data

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, v: list[str]) -> list[str]:
        from copyseal.anchors import ANCHORS, RECEIPT_KIND

        for kind in v:
            if kind not in ANCHORS:
                known = ", ".join(sorted(ANCHORS))
                raise ValueError(f"unknown anchor kind {kind!r} (known: {known})")
        if len(set(v)) != len(v):
            raise ValueError("each anchor kind may be listed once")
        if RECEIPT_KIND not in v:
            raise ValueError(
                f"must include {RECEIPT_KIND!r} (the signed checkpoint every receipt carries)"
            )
        return v

    @model_validator(mode="after")
    def _named_entries(self) -> AnchorsSettings:
        for kind, section in ANCHOR_SECTIONS.items():
            entries: dict[str, Any] = getattr(self, section)
            problem = _anchor_name_problem(section, entries)
            if problem is not None:
                raise problem
            if kind in self.kinds and not entries:
                raise NamedKeyError(
                    "kinds", self.kinds, f"lists {kind!r} but anchors.{section} has no entry"
                )
        return self

    def entries(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The configured instances of each kind that runs (``ledger`` has none): kind →
        name → that entry's keys (paths as resolved)."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for kind, section in ANCHOR_SECTIONS.items():
            if kind in self.kinds:
                entries: dict[str, _Section] = getattr(self, section)
                out[kind] = {name: dict(e) for name, e in entries.items()}
        return out


class MatchSettings(_Section):
    """Image decoding limits and matcher thresholds."""

    #: Refuse images with more pixels than this (decompression bombs).
    max_pixels: int = Field(default=100_000_000, gt=0)
    #: Refuse image files larger than this many bytes.
    max_bytes: int = Field(default=50_000_000, gt=0)
    #: Matcher thresholds to change from their calibrated defaults (the keys and the
    #: measurements behind each default are documented in ``copyseal.match.MatchConfig``).
    engine: dict[str, Any] = {}
    #: The retrieval index backend (``copyseal.match.INDEXES``): ``faiss``. The names are
    #: listed here, not imported, so that reading the settings loads no image stack.
    index: Literal["faiss"] = "faiss"
    #: The matcher of the crawl, sealing and ``copyseal match`` (``copyseal.registry.
    #: MATCHERS``): ``workspace`` (exact SHA-256, then fingerprints of registered works).
    matcher: Literal["workspace"] = "workspace"

    @field_validator("engine")
    @classmethod
    def _engine_keys(cls, v: dict[str, Any]) -> dict[str, Any]:
        if v:
            from copyseal.errors import MatchError
            from copyseal.match.config import MatchConfig

            defaults = MatchConfig()
            for key, value in v.items():
                default = getattr(defaults, key, None)
                if isinstance(default, bool):
                    ok = isinstance(value, bool)
                elif isinstance(default, int):
                    ok = isinstance(value, int) and not isinstance(value, bool)
                elif isinstance(default, float):
                    ok = isinstance(value, int | float) and not isinstance(value, bool)
                else:
                    ok = default is None or isinstance(value, list | tuple)
                if not ok:
                    kind = type(default).__name__
                    raise ValueError(f"{key} must be a {kind}, not {value!r}")
            try:
                MatchConfig.from_mapping(dict(v))
            except MatchError as e:
                raise ValueError(str(e)) from e
        return v


class CrawlTarget(_Section):
    """A site to crawl, named under ``crawl.targets`` (part of :class:`CrawlSettings`).

    Each key's ``title`` and ``description`` document it here and label it in the review
    app, whose target form and JSON API are built from this model (``copyseal.web``): a
    key added here is editable there.
    """

    urls: list[str] = Field(
        min_length=1,
        title="Start URLs",
        description="http or https; in config.yaml, the urls spider takes files of URLs"
        " instead, one a line",
    )
    spider: str = Field(
        default="site",
        title="Spider",
        description="site follows links and robots.txt sitemaps; sitemap, urls, or the name"
        " of a site-specific spider in crawl.spiders_dir",
    )
    render: bool = Field(
        default=False,
        title="Render pages in Chromium",
        description="finds JavaScript and lazy-loaded images; about 30 times slower",
    )
    allowed_domains: list[str] = Field(
        default=[],
        title="Allowed domains",
        description="whose pages are followed; default: the start URLs' hosts and subdomains",
        json_schema_extra={"commas_separate": True},
    )
    max_pages: int | None = Field(
        default=None, gt=0, title="Max pages", description="default: the crawl section's"
    )
    max_depth: int | None = Field(
        default=None, ge=0, title="Max depth", description="default: the crawl section's"
    )
    allow_private: bool = Field(
        default=False,
        title="Allow private addresses",
        description="private, loopback and link-local addresses; for local test sites only",
    )
    obey_robots_txt: bool = Field(
        default=True,
        title="Obey robots.txt",
        description="not obeying must be explicit: false needs robots_override_reason",
    )
    robots_override_reason: str | None = Field(
        default=None,
        title="Reason for not obeying robots.txt",
        description="recorded with every crawl job of the target",
    )

    @field_validator("robots_override_reason")
    @classmethod
    def _reason_not_blank(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must not be blank")
        return v

    @model_validator(mode="after")
    def _override_is_explained(self) -> CrawlTarget:
        if not self.obey_robots_txt and not self.robots_override_reason:
            raise ValueError("obey_robots_txt: false needs robots_override_reason")
        return self


class CrawlSchedule(_Section):
    """A recurring crawl of a target, named under ``crawl.schedules`` (``copyseal scheduler``).

    Cron expressions are evaluated in UTC (see :mod:`copyseal._cron`).
    """

    target: str = Field(title="Target", description="the name of a target under crawl.targets")
    cron: str = Field(
        title="Cron",
        description="five fields in UTC, or @daily ...; 0 3 * * * is 03:00 UTC daily",
        examples=["0 3 * * *"],
    )
    revisit_matches: bool = Field(
        default=False,
        title="Also re-visit pages with earlier matches",
        description="every page where earlier crawls of the target found a match is crawled"
        " again, so their continued use is captured as new evidence",
    )
    enabled: bool = Field(
        default=True,
        title="Schedule enabled",
        description="a disabled schedule is listed but never run",
    )

    @field_validator("cron")
    @classmethod
    def _cron_ok(cls, v: str) -> str:
        from copyseal._cron import parse_cron

        parse_cron(v)  # CronError is a ValueError: reported with the key and value
        return v.strip()


class NamedKeyError(ValueError):
    """A validation error about a key below the one being validated (``key`` is dotted,
    relative to it), so the one-line message names the exact key and value."""

    def __init__(self, key: str, value: object, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.value = value


class CrawlSettings(_Section):
    """How copyseal crawls other people's sites (see ``copyseal.crawl``)."""

    #: The User-Agent names copyseal and where to reach its operator.
    user_agent: str = "copyseal/{version} (+{contact_url})"
    contact_url: str = "https://example.invalid/copyseal-contact"
    obey_robots_txt: bool = True
    #: Chromium used for rendering and capture (Debian's package by default).
    browser_executable: Path = Path("/usr/bin/chromium")
    #: Connect to a running Chromium over CDP instead of launching one (null: launch).
    browser_cdp_url: str | None = None
    #: Folder of Scrapy spiders (null: the ``spiders/`` folder of the copyseal checkout).
    spiders_dir: Path | None = None
    #: Default limits per crawl.
    max_pages: int = Field(default=1000, gt=0)
    max_depth: int = Field(default=5, ge=0)
    #: Concurrent requests in all, per domain, and browser pages at once (render mode).
    concurrency: int = Field(default=16, gt=0)
    per_domain_concurrency: int = Field(default=4, gt=0)
    render_concurrency: int = Field(default=4, gt=0)
    #: AutoThrottle adapts the delay to the server's latency (start and max delay, s).
    autothrottle: bool = True
    autothrottle_start_delay: float = Field(default=1.0, ge=0)
    autothrottle_max_delay: float = Field(default=30.0, gt=0)
    #: Per-request timeout (s), redirects followed at most, and the largest page (bytes).
    timeout: float = Field(default=30.0, gt=0)
    max_redirects: int = Field(default=5, ge=0)
    max_page_bytes: int = Field(default=10_000_000, gt=0)
    #: Render mode: wheel steps at most, and how long to wait for the network to settle (s).
    scroll_steps: int = Field(default=30, ge=0)
    settle_timeout: float = Field(default=5.0, ge=0)

    def resolved_user_agent(self) -> str:
        """The User-Agent with copyseal's version and the contact URL filled in."""
        from copyseal import __version__

        return self.user_agent.format(version=__version__, contact_url=self.contact_url)

    #: Named sites to crawl: ``copyseal crawl NAME`` (see CrawlTarget for the keys).
    targets: dict[str, CrawlTarget] = {}
    #: Recurring crawls of targets, run by ``copyseal scheduler`` (see CrawlSchedule).
    schedules: dict[str, CrawlSchedule] = {}

    @model_validator(mode="after")
    def _schedules_name_targets(self) -> CrawlSettings:
        for name, schedule in self.schedules.items():
            if not name or len(name) > 64 or any(c.isspace() for c in name):
                raise NamedKeyError(
                    f"schedules.{name}", name, "a schedule name has 1-64 characters, no spaces"
                )
            if schedule.target not in self.targets:
                known = ", ".join(sorted(self.targets)) or "none configured"
                raise NamedKeyError(
                    f"schedules.{name}.target",
                    schedule.target,
                    f"not a target under crawl.targets ({known})",
                )
        return self


class CaptureSettings(_Section):
    """Evidence capture and sealing (see ``copyseal.capture`` and ``copyseal.bundle``)."""

    #: Capture and seal each page where a crawl finds a match, as part of the crawl.
    on_match: bool = True
    #: Browser viewport of a capture (CSS pixels).
    viewport_width: int = Field(default=1280, gt=0)
    viewport_height: int = Field(default=800, gt=0)
    #: Seconds to wait for the page to load, then at most for its network to settle.
    load_timeout: float = Field(default=30.0, gt=0)
    settle_timeout: float = Field(default=10.0, ge=0)
    #: An NTP server to measure the system clock's offset against at capture (null: off).
    ntp_server: str | None = None
    #: Who makes the bundles (BagIt ``Source-Organization``; default: the works' owner).
    organization: str | None = None


class LoggingSettings(_Section):
    """Logs go to stderr and to a rotating JSON-lines file in the workspace."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file: Path | None = Path("logs/copyseal.log")
    max_bytes: int = Field(default=5_000_000, gt=0)
    backups: int = Field(default=5, ge=0)


class Settings(_Section):
    """The whole validated configuration (frozen)."""

    workspace: WorkspaceSettings = WorkspaceSettings()
    database: DatabaseSettings = DatabaseSettings()
    ledger: LedgerSettings = LedgerSettings()
    anchors: AnchorsSettings = AnchorsSettings()
    match: MatchSettings = MatchSettings()
    crawl: CrawlSettings = CrawlSettings()
    capture: CaptureSettings = CaptureSettings()
    logging: LoggingSettings = LoggingSettings()
    #: The file the settings were read from (None: defaults only). Not a YAML key.
    source: Path | None = Field(default=None, exclude=True)
    #: The folder relative paths were resolved against. Not a YAML key.
    base_dir: Path = Field(default=Path("."), exclude=True)

    def digest(self) -> str:
        """SHA-256 of the effective settings, for the capture environment record."""
        data = self.model_dump(mode="json")
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(canonical).hexdigest()


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
