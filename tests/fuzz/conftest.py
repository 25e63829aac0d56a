"""Genuine artefacts the fuzzers start from: one sealed workspace, built once per session.

Mutating real receipts, signed checkpoints, anchor proof files and bundle zips reaches
the deep branches of each parser (a random string fails at the first line); the
genuine artefact itself must verify, which each target checks first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import insert

from copyseal.anchors import service
from copyseal.bundle import BundleInfo, EvidenceFile, write_bundle
from copyseal.bundle.writer import export_zip
from copyseal.db.models import EvidenceBundle
from copyseal.storage import Area
from copyseal.times import now
from copyseal.workspace import Workspace, init_workspace


class Material:
    """A log's public key and artefacts that verify under it.

    A plain class, not a dataclass: Hypothesis prints a dataclass field by field with
    every failing example, and these fields are large.
    """

    def __init__(
        self,
        *,
        vkey: str,
        origin: str,
        manifest: bytes,
        receipt: bytes,
        old_note: str,
        new_note: str,
        consistency: tuple[bytes, ...],
        proof_file: bytes,
        bundle: BundleInfo,
        zip_bytes: bytes,
    ) -> None:
        self.vkey = vkey
        self.origin = origin
        self.manifest = manifest  # the first bundle's manifest.json (its leaf data)
        self.receipt = receipt  # the first bundle's receipt
        self.old_note = old_note  # the receipt's checkpoint note
        self.new_note = new_note  # a later signed checkpoint
        self.consistency = consistency  # from the old to the new checkpoint
        self.proof_file = proof_file  # the first bundle's anchor proof file
        self.bundle = bundle
        self.zip_bytes = zip_bytes  # the first bundle as export_zip writes it

    def __repr__(self) -> str:
        return f"Material(bundle={self.bundle.bundle_id})"


def _seal(ws: Workspace, n: int, picture: bytes) -> BundleInfo:
    url = f"http://127.0.0.2:8000/page/{n}"
    info = write_bundle(
        root=ws.store.folder(Area.BUNDLES),
        url=url,
        captured_at=datetime(2026, 11, 25, 9, 0, n, tzinfo=UTC),
        files=[
            EvidenceFile(name="page/raw.html", media_type="text/html", data=b"<p>%d</p>" % n),
            EvidenceFile(name="images/found.png", media_type="image/png", data=picture),
        ],
        match=None,
        capture={"status": 200, "final_url": url},
        signing_key=ws.signing_key(),
        ledger=ws.ledger(),
    )
    with ws.engine.begin() as conn:
        conn.execute(
            insert(EvidenceBundle),
            {
                "bundle_id": info.bundle_id,
                "page_url": url,
                "job_id": None,
                "path": str(info.path),
                "manifest_sha256": info.manifest_sha256,
                "leaf_hash": info.leaf_hash,
                "ledger_index": info.ledger_index,
                "captured_at": datetime(2026, 11, 25, tzinfo=UTC),
                "created_at": now(),
            },
        )
    return info


@pytest.fixture(scope="session")
def material(
    tmp_path_factory: pytest.TempPathFactory, photos: dict[str, np.ndarray]
) -> Iterator[Material]:
    root = tmp_path_factory.mktemp("fuzz-material")
    ws = Workspace.open(init_workspace(root / "ws"))
    try:
        import io

        buf = io.BytesIO()
        Image.fromarray(photos["coffee"][::8, ::8]).save(buf, format="PNG")
        ledger = ws.ledger()
        ledger.append([("test", b"entry %d" % i) for i in range(5)])  # a non-empty path
        first = _seal(ws, 1, buf.getvalue())
        _seal(ws, 2, buf.getvalue())
        service.run(ws)
        receipt = (first.path / "manifest.json.tlog-proof").read_bytes()
        manifest = (first.path / "manifest.json").read_bytes()
        old_size = first.checkpoint_size
        new = ledger.latest_checkpoint()
        old = ledger.checkpoint_at(old_size)
        assert old is not None and new.size > old_size
        zip_path = export_zip(first.path, root / "bundle.zip")
        yield Material(
            vkey=ledger.vkey(),
            origin=ledger.origin,
            manifest=manifest,
            receipt=receipt,
            old_note=old.note,
            new_note=new.note,
            consistency=tuple(ledger.consistency_proof(old_size, new.size)),
            proof_file=service.bundle_proof(ws, first.bundle_id),
            bundle=first,
            zip_bytes=zip_path.read_bytes(),
        )
        assert hashlib.sha256(manifest).hexdigest() == first.manifest_sha256
    finally:
        ws.close()
