"""The kind-specific fields of ``copyseal anchors run --json``, and the files kept per
anchor record (RFC 3161 tokens) in the evidence store.

A kind may offer ``describe(record) -> Mapping`` itself; otherwise the fields are read
from the record's payload as the kinds write it: ``evm`` a JSON object (chain, contract,
transaction, block, gas), ``rfc3161`` a JSON proof (TSA name, ``genTime``, the DER
``TimeStampResp`` token in base64), ``witness`` the cosigned note (its ``cosignature/v1``
lines).
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import PurePosixPath
from typing import Any

from copyseal.anchors.base import Anchor, AnchorRecord
from copyseal.errors import CopysealError
from copyseal.storage import Area, EvidenceStore

__all__ = ["describe", "keep_files", "token_name"]

_EVM_FIELDS = (
    "chain_id",
    "contract",
    "tx_hash",
    "block_number",
    "block_hash",
    "log_index",
    "gas_used",
)


def _json(payload: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def token_name(record: AnchorRecord) -> str:
    """Where an RFC 3161 record's token is kept in :data:`Area.ANCHORS`."""
    return str(PurePosixPath("rfc3161", record.name, f"{record.checkpoint.size}.tsr"))


def _token(record: AnchorRecord) -> bytes | None:
    text = _json(record.payload).get("token")
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def keep_files(store: EvidenceStore, record: AnchorRecord) -> None:
    """Publish the record's own evidence files (an RFC 3161 token as ``.tsr``), once."""
    if record.kind != "rfc3161":
        return
    token = _token(record)
    if token is None:
        return
    name = token_name(record)
    if not store.path(Area.ANCHORS, name).exists():
        store.publish_bytes(Area.ANCHORS, name, token)


def describe(anchor: Anchor | None, record: AnchorRecord, store: EvidenceStore) -> dict[str, Any]:
    """The kind's own fields of an anchored record (empty when there are none)."""
    hook = getattr(anchor, "describe", None)
    if callable(hook):
        return dict(hook(record))
    if record.kind == "evm":
        doc = _json(record.payload)
        return {k: doc[k] for k in _EVM_FIELDS if k in doc}
    if record.kind == "rfc3161":
        doc = _json(record.payload)
        path = store.path(Area.ANCHORS, token_name(record))
        return {
            "token_file": str(path) if path.exists() else None,
            "gen_time": doc.get("gen_time"),
            "tsa": doc.get("tsa", record.name),
        }
    if record.kind == "witness":
        vkey = getattr(anchor, "witness_vkey", None)
        if isinstance(vkey, str):
            from copyseal.anchors.witness import cosignature_lines

            try:
                return {"cosignature": cosignature_lines(record.payload, vkey)}
            except CopysealError:
                return {"cosignature": None}
    return {}
