"""Case packages for lawyers and courts: every bundle, receipts, checkpoint, vkey, a PDF
report and ``case.json``, reproducible and logged in the ledger (see :mod:`.package`)."""

from copyseal.export._model import ExportError, safe_name
from copyseal.export.package import (
    FORMAT,
    ExportResult,
    export_case,
    export_path,
    export_receipt,
    exports_dir,
    receipt_files,
)

__all__ = [
    "FORMAT",
    "ExportError",
    "ExportResult",
    "export_case",
    "export_path",
    "export_receipt",
    "exports_dir",
    "receipt_files",
    "safe_name",
]
