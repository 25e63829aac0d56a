from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from copyseal.bundle import BundleInfo, EvidenceFile, write_bundle
from copyseal.ledger import Ledger
from copyseal.storage import Area
from copyseal.workspace import Workspace, init_workspace


@pytest.fixture
def sqlite_workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = Workspace.open(init_workspace(tmp_path / "ws"))
    yield ws
    ws.close()


@pytest.fixture
def ledger(sqlite_workspace: Workspace) -> Ledger:
    return Ledger(
        engine=sqlite_workspace.engine,
        origin=sqlite_workspace.settings.ledger.origin,
        signing_key=sqlite_workspace.signing_key(),
    )


def png_bytes(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def evidence_files(tmp_path: Path, photos: dict[str, np.ndarray]) -> list[EvidenceFile]:
    html = tmp_path / "page.html"
    html.write_bytes(b"<html><body><img src='/a.jpg'></body></html>")
    return [
        EvidenceFile(
            name="screenshot-full.png", media_type="image/png", data=png_bytes(photos["coffee"])
        ),
        EvidenceFile(name="page/raw.html", media_type="text/html", source=html),
        EvidenceFile(
            name="images/found.png", media_type="image/png", data=png_bytes(photos["astronaut"])
        ),
    ]


@pytest.fixture
def bundle(
    sqlite_workspace: Workspace, ledger: Ledger, evidence_files: list[EvidenceFile]
) -> BundleInfo:
    # Earlier entries, so the bundle's inclusion proof is not empty.
    ledger.append([("test", f"entry {i}".encode()) for i in range(5)])
    return write_bundle(
        root=sqlite_workspace.store.folder(Area.BUNDLES),
        url="http://127.0.0.1:8000/gallery/",
        captured_at=datetime(2026, 11, 25, 9, 0, 0, 123456, tzinfo=UTC),
        files=evidence_files,
        match={
            "work_id": "w0123456789abcdef0123",
            "score": 0.97,
            "region": [[0, 0], [10, 0], [10, 10]],
        },
        capture={"status": 200, "final_url": "http://127.0.0.1:8000/gallery/"},
        signing_key=sqlite_workspace.signing_key(),
        ledger=ledger,
        organization="Jane Doe Photography",
    )
