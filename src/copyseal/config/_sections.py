"""The sections of the settings and the whole :class:`Settings` model."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
)

from copyseal.config._anchors import AnchorsSettings
from copyseal.config._base import _Section
from copyseal.config._crawl import CrawlSettings
from copyseal.config._distributed import DistributedSettings
from copyseal.config._market import MarketSettings

__all__ = [
    "CaptureSettings",
    "DatabaseSettings",
    "LedgerSettings",
    "LoggingSettings",
    "MatchSettings",
    "Settings",
    "WebSettings",
    "WorkspaceSettings",
]


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
    #: Processes that match a crawl's images (each loads the index once). None: one per
    #: core (``os.cpu_count()``); 0: match on one thread of the crawl process instead.
    workers: int | None = Field(default=None, ge=0)

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


class WebSettings(_Section):
    """The review app (``copyseal serve``)."""

    #: Proxies whose ``X-Forwarded-For``/``-Proto`` headers are trusted (addresses or
    #: CIDR networks, ``*`` for any; uvicorn's ``forwarded_allow_ips``). Empty: none.
    forwarded_allow_ips: tuple[str, ...] = ()

    @field_validator("forwarded_allow_ips", mode="before")
    @classmethod
    def _comma_separated(cls, v: Any) -> Any:
        # COPYSEAL_WEB__FORWARDED_ALLOW_IPS and --set give one string, as uvicorn takes it.
        return [p.strip() for p in v.split(",") if p.strip()] if isinstance(v, str) else v

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        import ipaddress

        for item in v:
            if item != "*":
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError as e:
                    raise ValueError(f"{item!r} is not an address or CIDR network") from e
        return v


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
    web: WebSettings = WebSettings()
    market: MarketSettings = MarketSettings()
    distributed: DistributedSettings = DistributedSettings()
    #: The file the settings were read from (None: defaults only). Not a YAML key.
    source: Path | None = Field(default=None, exclude=True)
    #: The folder relative paths were resolved against. Not a YAML key.
    base_dir: Path = Field(default=Path("."), exclude=True)

    def digest(self) -> str:
        """SHA-256 of the effective settings, for the capture environment record."""
        data = self.model_dump(mode="json")
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(canonical).hexdigest()
