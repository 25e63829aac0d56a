"""Helpers of the anchoring service's tests: a real second kind, and a sealed bundle.

:class:`GateAnchor` is a small but real anchor kind (not a stand-in for one of
copyseal's): it commits a checkpoint by writing the signed note into a folder, and cannot
anchor while its folder holds a file named ``down`` (an anchor that is down). It keeps no
state in memory, so a second process finds what the first sent (its ``find`` hook).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sqlalchemy import insert

from copyseal.anchors import (
    ANCHORS,
    AnchorContext,
    AnchorError,
    AnchorFactory,
    AnchorRecord,
    AnchorVerificationError,
    Proven,
)
from copyseal.bundle import BundleInfo, EvidenceFile, write_bundle
from copyseal.db.schema.bundle import EvidenceBundle
from copyseal.ledger.checkpoint import Checkpoint, open_checkpoint
from copyseal.ledger.note import NoteSigner, parse_vkey
from copyseal.storage import Area
from copyseal.times import now
from copyseal.workspace import Workspace

GATE = "gate"


class GateAnchor:
    """Anchors by writing the signed checkpoint note to ``options["folder"]`` (without
    one it only verifies)."""

    def __init__(
        self, *, folder: Path | None, vkey: str, name: str, signer: NoteSigner | None
    ) -> None:
        self._folder, self._vkey, self._name, self._signer = folder, vkey, name, signer

    @classmethod
    def from_context(cls, context: AnchorContext) -> GateAnchor:
        folder = context.options.get("folder")
        if folder is not None and not isinstance(folder, Path):
            raise AnchorError("a gate anchor's options.folder is a path")
        return cls(
            folder=folder, vkey=context.vkey, name=context.name or "gate", signer=context.signer
        )

    @property
    def kind(self) -> str:
        return GATE

    @property
    def name(self) -> str:
        return self._name

    def _path(self, checkpoint: Checkpoint) -> Path:
        if self._folder is None:
            raise AnchorError(f"gate {self._name} has no folder")
        return self._folder / f"{self._name}-{checkpoint.size}.note"

    def anchor(self, checkpoint: Checkpoint) -> AnchorRecord:
        if self._folder is None or (self._folder / "down").exists():
            raise AnchorError(f"gate {self._name} is down")
        assert self._signer is not None
        note = checkpoint.sign(self._signer)
        path = self._path(checkpoint)
        with (path.parent / "sends.log").open("a") as log:
            log.write(f"{checkpoint.size}\n")
        path.write_text(note, encoding="utf-8")
        return self._record(checkpoint, note)

    def _record(self, checkpoint: Checkpoint, note: str) -> AnchorRecord:
        return AnchorRecord(
            kind=GATE,
            name=self._name,
            checkpoint=checkpoint,
            payload=note.encode(),
            anchored_at=datetime(2026, 12, 1, tzinfo=UTC),
        )

    def find(self, checkpoint: Checkpoint) -> AnchorRecord | None:
        path = self._path(checkpoint)
        if not path.exists():
            return None
        return self._record(checkpoint, path.read_text(encoding="utf-8"))

    def prove(self, record: AnchorRecord) -> bytes:
        """The gate's name, a newline, and the signed note (the name is bound too)."""
        return self._name.encode() + b"\n" + record.payload

    def verify(self, proof: bytes, checkpoint: Checkpoint) -> Proven:
        name, _, note = proof.partition(b"\n")
        if name != self._name.encode():
            raise AnchorVerificationError(f"not a proof of gate {self._name}")
        try:
            signed = open_checkpoint(note, parse_vkey(self._vkey))
        except Exception as e:
            raise AnchorVerificationError(str(e)) from e
        if signed != checkpoint:
            raise AnchorVerificationError("another checkpoint")
        return Proven(
            kind=GATE,
            name=self._name,
            origin=signed.origin,
            size=signed.size,
            root=signed.root,
            detail=f"written by gate {self._name}",
        )


#: The kinds of copyseal plus the test kind (a test-local table, never ANCHORS itself).
TABLE: Mapping[str, AnchorFactory] = MappingProxyType({**ANCHORS, GATE: GateAnchor})


def gate_entries(folder: Path, *names: str) -> dict[str, dict[str | None, dict[str, Any]]]:
    """The ledger's own anchor plus one gate anchor per name, all writing into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return {"ledger": {None: {}}, GATE: {n: {"folder": folder} for n in names}}


def seal(ws: Workspace, n: int) -> BundleInfo:
    """A real bundle sealed into the workspace's ledger and recorded in its database."""
    ledger = ws.ledger()
    info = write_bundle(
        root=ws.store.folder(Area.BUNDLES),
        url=f"http://127.0.0.1:8000/page/{n}",
        captured_at=datetime(2026, 11, 25, 9, 0, n, tzinfo=UTC),
        files=[EvidenceFile(name="page/raw.html", media_type="text/html", data=b"<p>%d</p>" % n)],
        match=None,
        capture={"status": 200, "final_url": f"http://127.0.0.1:8000/page/{n}"},
        signing_key=ws.signing_key(),
        ledger=ledger,
    )
    with ws.engine.begin() as conn:
        conn.execute(
            insert(EvidenceBundle),
            {
                "bundle_id": info.bundle_id,
                "page_url": f"http://127.0.0.1:8000/page/{n}",
                "job_id": None,
                "path": str(info.path),
                "manifest_sha256": info.manifest_sha256,
                "leaf_hash": info.leaf_hash,
                "ledger_index": info.ledger_index,
                "captured_at": datetime(2026, 11, 25, tzinfo=UTC),
                "created_at": now(),
            },
        )
    assert hashlib.sha256((info.path / "manifest.json").read_bytes()).hexdigest() == (
        info.manifest_sha256
    )
    return info
