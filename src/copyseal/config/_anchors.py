"""The ``anchors`` section: which anchors commit the ledger's checkpoints."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from copyseal.config._base import NamedKeyError, _Section

__all__ = [
    "ANCHOR_SECTIONS",
    "AnchorsSettings",
    "EvmAnchorSettings",
    "TsaSettings",
    "WitnessSettings",
]


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
