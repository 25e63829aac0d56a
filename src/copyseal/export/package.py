"""Case packages: every bundle of a case, receipts, checkpoint, vkey, PDF report, case.json.

Layout of ``CASE.zip`` (one top folder named after the case)::

    CASE/README.txt                       what is here and how to verify it
    CASE/case.json                        machine-readable case: matches, decisions,
                                          bundles, consistency proofs, every file's SHA-256
    CASE/report.pdf                       the report for people
    CASE/bundles/BUNDLE.zip               each evidence bundle (``copyseal verify`` it)
    CASE/ledger/vkey                      the ledger's note verifier key
    CASE/ledger/checkpoint                the signed checkpoint the receipts are made against
    CASE/anchors/BUNDLE.anchor-proof.json each bundle's anchor proof file, and
    CASE/anchors/checkpoint.anchor-proof.json  ledger/checkpoint's (once an anchor covers it)
    CASE/receipts/decision-N.json         each review decision statement (ledger entry N)
    CASE/receipts/decision-N.tlog-proof   and its C2SP tlog-proof receipt

The package is reproducible: entries are sorted, their times and the PDF's dates come
from the case's own data, so exporting the same case again gives the same bytes (unless
anchoring progressed meanwhile: a newly anchored or confirmed checkpoint changes the anchor
proof files and the report). The anchor proof files are those of
:mod:`copyseal.anchors.proof_file`; the export's own ``export`` entry is appended after
the package is written, so its anchor proof can only be made later, from its receipt. After
writing, its SHA-256 is appended to the ledger as an ``export`` statement, whose bytes
and receipt the workspace keeps in ``evidence/exports/receipts/export-N.json`` and
``export-N.tlog-proof`` (N: its ledger entry), whoever exported (:func:`export_receipt`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from copyseal.bundle.writer import export_zip
from copyseal.db.schema.review import Export
from copyseal.errors import EvidenceStoreError
from copyseal.export._document import (
    CHECKPOINT_PROOF,
    FORMAT,
    README,
    bundle_proof_name,
    case_json,
)
from copyseal.export._model import CaseData, ExportError, gather, safe_name
from copyseal.export._pdf import render_report
from copyseal.files import publish_stream
from copyseal.ledger import statements
from copyseal.review.cases import get_case
from copyseal.review.errors import NotFound
from copyseal.storage import Area
from copyseal.times import iso, now, utc
from copyseal.workspace import Workspace

__all__ = [
    "FORMAT",
    "ExportError",
    "ExportResult",
    "export_case",
    "export_path",
    "export_receipt",
    "exports_dir",
    "receipt_files",
]

_CHUNK = 1 << 20
log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ExportResult:
    """An exported package: where, its hash, and its ``export`` ledger entry."""

    case_id: str
    path: Path
    sha256: str
    size: int
    bundles: tuple[str, ...]
    matches: int
    as_of: datetime
    ledger_index: int
    statement: bytes
    receipt: str

    def to_json(self) -> dict[str, Any]:
        """The ``copyseal export --json`` document."""
        return {
            "case_id": self.case_id,
            "path": str(self.path),
            "sha256": self.sha256,
            "size": self.size,
            "bundles": list(self.bundles),
            "matches": self.matches,
            "as_of": iso(self.as_of),
            "ledger_index": self.ledger_index,
            "statement": json.loads(self.statement),
            "receipt": self.receipt,
        }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _build(data: CaseData, folder: Path) -> dict[str, Path]:
    """Write every member file into ``folder``; returns archive name -> file."""
    members: dict[str, Path] = {}

    def put(name: str, content: bytes) -> None:
        path = folder / name.replace("/", "__")
        path.write_bytes(content)
        members[name] = path

    for b in data.bundles:
        target = folder / f"bundle-{safe_name(b.bundle_id)}.zip"
        export_zip(b.path, target)
        members[f"bundles/{b.bundle_id}.zip"] = target
    put("ledger/vkey", (data.vkey + "\n").encode())
    put("ledger/checkpoint", data.checkpoint.note.encode())
    for b in data.bundles:
        if b.anchor_proof is not None:
            put(bundle_proof_name(b.bundle_id), b.anchor_proof)
    if data.checkpoint_proof is not None:
        put(CHECKPOINT_PROOF, data.checkpoint_proof)
    for index, (statement, receipt) in sorted(data.decision_receipts.items()):
        put(f"receipts/decision-{index}.json", statement)
        put(f"receipts/decision-{index}.tlog-proof", receipt.encode())
    put("report.pdf", render_report(data))
    put(
        "README.txt",
        README.format(
            case_id=data.case.case_id,
            title=data.case.title,
            as_of=iso(data.as_of),
            size=data.checkpoint.size,
        ).encode("utf-8"),
    )
    hashes = {name: (_sha256(p), p.stat().st_size) for name, p in members.items()}
    document = case_json(data, hashes)
    put(
        "case.json",
        (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode(),
    )
    return members


def _write_zip(data: CaseData, members: dict[str, Path], out: Path) -> None:
    stamp = utc(data.as_of).timetuple()[:6]
    top = safe_name(data.case.case_id)
    with zipfile.ZipFile(out, "x") as zf:
        for name in sorted(members):
            info = zipfile.ZipInfo(f"{top}/{name}", date_time=stamp)
            # Bundles are zips already: store them; deflate the rest.
            info.compress_type = (
                zipfile.ZIP_STORED if name.endswith(".zip") else zipfile.ZIP_DEFLATED
            )
            info.external_attr = 0o444 << 16
            with members[name].open("rb") as src, zf.open(info, "w") as dst:
                while chunk := src.read(_CHUNK):
                    dst.write(chunk)


def exports_dir(ws: Workspace) -> Path:
    """Where the app keeps exported packages: ``evidence/exports/``."""
    return ws.store.folder(Area.EXPORTS)


def export_path(ws: Workspace, file_name: str) -> Path:
    """The exported package ``file_name`` in :func:`exports_dir` (never outside it).

    Raises:
        ExportError: the name is not one safe ``.zip`` file name, or it escapes the folder.
    """
    if not file_name.endswith(".zip"):
        raise ExportError(f"unsafe file name {file_name!r}")
    safe_name(file_name)
    try:
        path = ws.store.path(Area.EXPORTS, file_name).resolve()
    except EvidenceStoreError as e:
        raise ExportError(f"unsafe file name {file_name!r}") from e
    if path.parent != exports_dir(ws).resolve():
        raise ExportError(f"unsafe file name {file_name!r}")
    return path


def _receipt_names(ledger_index: int) -> tuple[str, str]:
    name = f"export-{int(ledger_index)}"
    return f"{name}.json", f"{name}.tlog-proof"


def receipt_files(ws: Workspace, ledger_index: int) -> tuple[Path, Path]:
    """Where the workspace keeps the ``export`` statement at ``ledger_index`` and its
    receipt: ``evidence/exports/receipts/export-N.json`` and ``export-N.tlog-proof``."""
    statement, receipt = _receipt_names(ledger_index)
    return (
        ws.store.path(Area.EXPORT_RECEIPTS, statement),
        ws.store.path(Area.EXPORT_RECEIPTS, receipt),
    )


def _keep_receipt(ws: Workspace, ledger_index: int, statement: bytes, receipt: str) -> None:
    """Publish the statement and receipt files (each whole and synced, or not at all)."""
    for name, content in zip(
        _receipt_names(ledger_index), (statement, receipt.encode("utf-8")), strict=True
    ):
        ws.store.publish_bytes(Area.EXPORT_RECEIPTS, name, content, mode=0o644)


def export_receipt(ws: Workspace, case_id: str, ledger_index: int) -> tuple[bytes, str]:
    """The ``export`` statement (its exact bytes) of one of a case's exports and its
    C2SP tlog-proof receipt.

    The receipt is the one kept at export time (against the checkpoint signed with the
    statement); for an export whose files are gone (or made before they were kept) the
    statement is read from the ledger and the receipt made against the latest checkpoint,
    which verifies just the same.

    Raises:
        NotFound: no such case, or the case has no export at ``ledger_index``.
        ExportError: that ledger entry is not this case's export statement.
    """
    case = get_case(ws, case_id)
    if ledger_index not in {e.ledger_index for e in case.exports}:
        raise NotFound(f"case {case_id} has no export at ledger entry {ledger_index}")
    statement_file, receipt_file = receipt_files(ws, ledger_index)
    try:
        return statement_file.read_bytes(), receipt_file.read_text("utf-8")
    except FileNotFoundError:
        pass
    ledger = ws.ledger()
    entry = ledger.entry(ledger_index)
    if entry.entry_type != statements.EXPORT or json.loads(entry.data).get("case_id") != case_id:
        raise ExportError(f"ledger entry {ledger_index} is not an export of case {case_id}")
    return entry.data, ledger.receipt(ledger_index)


def export_case(
    ws: Workspace,
    case_id: str,
    *,
    out: Path | None = None,
    exported_by: str,
    recipient: str = "not stated",
) -> ExportResult:
    """Write the case package and append its ``export`` statement to the ledger.

    Args:
        out: the zip to write (never overwritten); None: ``evidence/exports/CASE-HASH.zip``
            (the same package twice is one file).
        exported_by: who exported (recorded in the database).
        recipient: to whom the package goes (recorded in the ledger statement).

    Raises:
        NotFound: no such case.
        ExportError: an empty case, an unsealed match, or ``out`` exists.
    """
    data = gather(ws, case_id)
    if out is not None and out.exists():
        raise ExportError(f"{out}: exists already; refusing to overwrite it")
    with tempfile.TemporaryDirectory(prefix="copyseal-export-") as tmp:
        members = _build(data, Path(tmp))
        package = Path(tmp) / "package.zip"
        _write_zip(data, members, package)
        sha = _sha256(package)
        name = f"{case_id}-{sha[:16]}.zip"
        final = out if out is not None else export_path(ws, name)
        # Published whole and synced, never over an existing file.
        target = (
            publish_stream(out)
            if out is not None
            else ws.store.publish_stream(Area.EXPORTS, name, mode=0o644)
        )
        try:
            with package.open("rb") as src, target as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
        except FileExistsError as e:
            if out is not None:
                raise ExportError(f"{out}: exists already; refusing to overwrite it") from e
            # Content-addressed: the same package was exported before; it is this one.
    at = now()
    statement = statements.export(
        case_id=case_id, package_sha256=sha, recipient=recipient.strip() or "not stated", time=at
    )
    ledger = ws.ledger()
    (index,) = ledger.append([(statements.EXPORT, statement)])
    receipt = ledger.receipt(index)
    size = final.stat().st_size
    with Session(ws.engine) as s, s.begin():
        s.add(
            Export(
                case_id=case_id,
                file_name=final.name,
                package_sha256=sha,
                size=size,
                recipient=recipient,
                exported_by=exported_by,
                exported_at=at,
                ledger_index=index,
            )
        )
    try:
        _keep_receipt(ws, index, statement, receipt)
    except OSError as e:
        # The export is done and logged; export_receipt() can still rebuild the receipt.
        log.warning("export %s: could not keep its receipt: %s", index, e)
    return ExportResult(
        case_id=case_id,
        path=final,
        sha256=sha,
        size=size,
        bundles=tuple(b.bundle_id for b in data.bundles),
        matches=len(data.matches),
        as_of=data.as_of,
        ledger_index=index,
        statement=statement,
        receipt=receipt,
    )
