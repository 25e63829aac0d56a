"""Building the configured anchors of a workspace (see :mod:`copyseal.anchors.service`)."""

from __future__ import annotations

import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sqlalchemy import func, select

from copyseal.anchors._state import DONE, remembered_contract
from copyseal.anchors.base import Anchor, AnchorContext, AnchorFactory
from copyseal.anchors.ledger import KIND as LEDGER_KIND
from copyseal.anchors.table import ANCHORS
from copyseal.db.schema.anchors import ANCHOR_RECORDS as _ROWS
from copyseal.errors import AnchorError, ConfigError, CopysealError
from copyseal.ledger.note import NoteSigner
from copyseal.workspace import Workspace

__all__ = ["Configured", "build", "check_secret"]


@dataclass(frozen=True, kw_only=True)
class Configured:
    """One configured anchor: built, or the reason it could not be (recorded as its
    failure, so a bad entry shows in ``anchors status`` rather than stopping the rest)."""

    kind: str
    name: str
    anchor: Anchor | None = None
    error: str | None = None


def check_secret(path: Path, key: str) -> None:
    """A key file must exist and be readable by its owner only (mode 0600)."""
    try:
        mode = path.stat().st_mode
    except OSError as e:
        raise ConfigError(f"{key}: {path}: cannot read the key file ({e.strerror})") from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{key}: {path}: key file is accessible by other users"
            f" (mode {stat.S_IMODE(mode):o}); run 'chmod 600 {path}'"
        )


def _options(ws: Workspace, kind: str, name: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    options = dict(entry)
    key_file = options.get("key_file")
    if isinstance(key_file, Path):
        check_secret(key_file, f"anchors.{kind}.{name}.key_file")
    if kind == "evm" and options.get("contract") is None:
        with ws.engine.connect() as conn:
            options["contract"] = remembered_contract(conn, name, options.get("chain_id"))
    if kind == "witness":
        # The witness needs the size it last cosigned and the proofs from there (C2SP
        # tlog-witness add-checkpoint); the workspace keeps the former.
        with ws.engine.connect() as conn:
            done = conn.execute(
                select(func.max(_ROWS.c.tree_size)).where(
                    _ROWS.c.kind == kind, _ROWS.c.name == name, _ROWS.c.status.in_(DONE)
                )
            ).scalar()
        options.setdefault("old_size", int(done or 0))
        options.setdefault("consistency", ws.ledger().consistency_proof)
    return options


def _entries(ws: Workspace) -> dict[str, dict[str | None, dict[str, Any]]]:
    out: dict[str, dict[str | None, dict[str, Any]]] = {LEDGER_KIND: {None: {}}}
    for kind, named in ws.settings.anchors.entries().items():
        out[kind] = dict(named.items())
    return out


def build(
    ws: Workspace,
    *,
    table: Mapping[str, AnchorFactory] = ANCHORS,
    entries: Mapping[str, Mapping[str | None, Mapping[str, Any]]] | None = None,
) -> tuple[Configured, ...]:
    """The workspace's anchors, able to anchor (the log's signer in their context).

    Args:
        ws: The workspace.
        table: The kinds to build from (default :data:`~copyseal.anchors.ANCHORS`).
        entries: kind → name → options; default: the ledger's own plus
            ``settings.anchors.entries()`` (the kinds ``anchors.kinds`` runs).
    """
    signer = NoteSigner(name=ws.settings.ledger.origin, signing_key=ws.signing_key())
    chosen = _entries(ws) if entries is None else entries
    out: list[Configured] = []
    for kind, named in chosen.items():
        for name, entry in named.items():
            shown = name if name is not None else signer.name
            try:
                factory = table.get(kind)
                if factory is None:
                    raise AnchorError(f"unknown anchor kind {kind!r} (known: {', '.join(table)})")
                context = AnchorContext(
                    vkey=signer.vkey,
                    signer=signer,
                    name=name,
                    options=MappingProxyType(
                        {} if name is None else _options(ws, kind, name, entry)
                    ),
                )
                anchor = factory.from_context(context)
                out.append(Configured(kind=kind, name=anchor.name, anchor=anchor))
            except CopysealError as e:
                out.append(Configured(kind=kind, name=shown, error=str(e)))
    return tuple(out)
