"""Evidence bundles: BagIt folders with a canonical manifest, a signature and a ledger receipt.

This package holds the format only (layout, manifest, writer, checks) and needs no
database or browser; capturing a page and sealing it into a bundle is
:mod:`copyseal.pipeline`'s.
"""

from copyseal.bundle.check import BundleVerification, Check, verify_bundle
from copyseal.bundle.manifest import FileEntry, Manifest, parse_manifest
from copyseal.bundle.writer import BundleInfo, EvidenceFile, export_zip, write_bundle

__all__ = [
    "BundleInfo",
    "BundleVerification",
    "Check",
    "EvidenceFile",
    "FileEntry",
    "Manifest",
    "export_zip",
    "parse_manifest",
    "verify_bundle",
    "write_bundle",
]
