"""Workspaces: a folder with a configuration, a signing key, evidence and a database.

``init_workspace`` creates one; ``Workspace.open`` opens one described by settings. The
engine and the signing key are loaded lazily, so commands that need neither stay fast.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nacl.signing import SigningKey, VerifyKey
from sqlalchemy.engine import Engine

from copyseal import keys
from copyseal._modes import make_private
from copyseal._template import CONFIG_TEMPLATE
from copyseal.config import Settings, load_settings
from copyseal.db import session as db
from copyseal.errors import WorkspaceError
from copyseal.storage import EvidenceStore, open_store

if TYPE_CHECKING:
    from copyseal.ledger.store import Ledger

__all__ = ["Workspace", "init_workspace"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Workspace:
    """An opened workspace (settings plus lazily opened resources)."""

    settings: Settings
    _cache: dict[str, object] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def open(cls, settings: Settings) -> Workspace:
        """Open the workspace the settings describe (nothing is touched yet)."""
        return cls(settings=settings)

    @property
    def engine(self) -> Engine:
        """The database engine, migrated to the current revision when configured to."""
        engine = self._cache.get("engine")
        if engine is None:
            engine = db.create_engine(self.settings.database.url)
            current = db.current_revision(engine)
            head = db.head_revision()
            if current != head:
                if current is None and not self.settings.workspace.signing_key.exists():
                    raise WorkspaceError(
                        f"{self.settings.source or 'this folder'}: not an initialised workspace"
                        " (run 'copyseal init')"
                    )
                if not self.settings.database.auto_migrate:
                    raise WorkspaceError(
                        f"database {db.redact(self.settings.database.url)} is at revision"
                        f" {current}, copyseal needs {head}: run 'copyseal db upgrade'"
                    )
                db.upgrade(engine)
                # A workspace from an older copyseal: its files may be world-readable.
                for path in make_private(self.settings):
                    log.warning("made %s readable by its owner only", path)
            self._cache["engine"] = engine
        assert isinstance(engine, Engine)
        return engine

    @property
    def store(self) -> EvidenceStore:
        """The evidence store ``workspace.evidence_dir`` names, built once through
        :data:`copyseal.storage.STORES`."""
        store = self._cache.get("store")
        if store is None:
            store = open_store(self.settings.workspace.evidence_dir)
            log.debug(store.describe())
            self._cache["store"] = store
        assert isinstance(store, EvidenceStore)
        return store

    def signing_key(self) -> SigningKey:
        """The workspace's Ed25519 signing key (never log it)."""
        key = self._cache.get("signing_key")
        if key is None:
            key = keys.load_signing_key(self.settings.workspace.signing_key)
            self._cache["signing_key"] = key
        assert isinstance(key, SigningKey)
        return key

    def ledger(self) -> Ledger:
        """The workspace's ledger: its database, configured origin and signing key."""
        log = self._cache.get("ledger")
        if log is None:
            from copyseal.ledger.store import Ledger

            log = Ledger(
                engine=self.engine,
                origin=self.settings.ledger.origin,
                signing_key=self.signing_key(),
            )
            self._cache["ledger"] = log
        return log  # type: ignore[return-value]

    def verify_key(self) -> VerifyKey:
        """The public half of the signing key."""
        return keys.load_verify_key(keys.public_key_path(self.settings.workspace.signing_key))

    def close(self) -> None:
        """Dispose of the engine's connections."""
        engine = self._cache.pop("engine", None)
        if isinstance(engine, Engine):
            engine.dispose()


def init_workspace(directory: Path | None, *, config: Path | None = None) -> Settings:
    """Create a workspace and return its settings.

    With ``directory``: write ``directory/config.yaml`` from the documented template, then
    create what it describes. Without it: create what the existing ``config`` describes
    (the repository's own ``config.yaml`` is the demo workspace's).

    Creates the evidence store, a fresh Ed25519 signing key (mode 0600) with its public
    key beside it, and the database at the newest migration, all readable by their owner
    only (:func:`copyseal._modes.make_private`).

    Raises:
        WorkspaceError: the workspace exists already (never overwritten).
    """
    if directory is not None:
        directory = directory.expanduser().resolve()
        config = directory / "config.yaml"
        if config.exists():
            raise WorkspaceError(
                f"{directory}: already a workspace ({config} exists); refusing to overwrite it"
            )
        directory.mkdir(parents=True, exist_ok=True)
        config.write_text(CONFIG_TEMPLATE, encoding="utf-8")
    if config is None:
        raise WorkspaceError("init needs a folder or an existing --config file")
    settings = load_settings(config)
    key_path = settings.workspace.signing_key
    if key_path.exists():
        raise WorkspaceError(
            f"{key_path}: workspace already initialised (signing key exists);"
            " refusing to overwrite it"
        )
    engine = db.create_engine(settings.database.url)
    try:
        if db.current_revision(engine) is not None:
            raise WorkspaceError(
                f"database {db.redact(settings.database.url)} already holds a copyseal workspace;"
                " refusing to reuse it"
            )
        open_store(settings.workspace.evidence_dir).create()
        keys.create_signing_key(key_path)
        db.upgrade(engine)
    finally:
        engine.dispose()
    make_private(settings)  # whatever the umask of the calling process
    return settings
