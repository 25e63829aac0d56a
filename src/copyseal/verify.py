"""Offline verification: a receipt, the data it is for, and the log's public key.

This is what a stranger runs (``copyseal verify RECEIPT --vkey ...``): it needs no
database and no workspace, and imports only the ledger's pure modules and the anchors
(never the store), so it keeps working on a laptop with nothing but the files. The
receipt's checkpoint is proven through its anchor (:data:`copyseal.anchors.ANCHORS`, kind
``ledger``: the note signed by the log's key), then the RFC 9162 inclusion proof leads
from the data's leaf hash to the proven root. Everything wrong raises
:class:`~copyseal.errors.VerificationError`. Bundles are verified by
:func:`copyseal.bundle.verify_bundle`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from copyseal.anchors import RECEIPT_KIND, AnchorContext, anchor_for, verify_stated
from copyseal.errors import VerificationError
from copyseal.ledger.merkle import HASH_SIZE, leaf_hash, verify_inclusion
from copyseal.ledger.proof import parse_receipt

__all__ = ["ReceiptVerification", "load_vkey", "verify_receipt_file"]

_MAX_VKEY_FILE = 4096


@dataclass(frozen=True, kw_only=True)
class ReceiptVerification:
    """What a verified receipt proves: leaf ``leaf_hash`` is entry ``index`` of log
    ``origin``, whose signed checkpoint at ``size`` leaves has root ``root``."""

    origin: str
    index: int
    size: int
    root: bytes
    leaf_hash: bytes


def load_vkey(vkey: str) -> str:
    """A vkey given inline (``name+keyid+key``) or as the path of a file holding one."""
    path = Path(vkey)
    try:
        if not path.is_file():
            return vkey.strip()
        if path.stat().st_size > _MAX_VKEY_FILE:
            raise VerificationError(f"{vkey}: too large to be a verifier key file")
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise VerificationError(f"{vkey}: not a readable verifier key file") from e


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise VerificationError(f"cannot read the {what} {path}: {e.strerror}") from e


def verify_receipt_file(
    receipt: Path,
    *,
    vkey: str,
    data: Path | bytes | None = None,
    leaf: bytes | None = None,
    origin: str | None = None,
) -> ReceiptVerification:
    """Verify a ``tlog-proof@v1`` receipt file for some data, offline.

    Args:
        receipt: the ``.tlog-proof`` file.
        vkey: the log's verifier key, inline or as a file path (see :func:`load_vkey`).
        data: the logged bytes (a statement, or a bundle's ``manifest.json``), or a path
            to them.
        leaf: alternatively, the RFC 9162 leaf hash of the data.
        origin: the log origin the checkpoint must carry (default: the vkey's name).

    Raises:
        VerificationError: the receipt, signature, proof or inputs are wrong.
    """
    if (data is None) == (leaf is None):
        raise VerificationError("give exactly one of the data or its leaf hash")
    if isinstance(data, Path):
        data = _read(data, "data file")
    if data is not None:
        leaf = leaf_hash(data)
    assert leaf is not None
    if len(leaf) != HASH_SIZE:
        raise VerificationError("a leaf hash is 32 bytes")
    parsed = parse_receipt(_read(receipt, "receipt"))
    anchor = anchor_for(RECEIPT_KIND, AnchorContext(vkey=load_vkey(vkey), origin=origin))
    _, proven = verify_stated(anchor, parsed.checkpoint_note)
    verify_inclusion(
        leaf_hash=leaf, index=parsed.index, size=proven.size, proof=parsed.proof, root=proven.root
    )
    return ReceiptVerification(
        origin=proven.origin,
        index=parsed.index,
        size=proven.size,
        root=proven.root,
        leaf_hash=leaf,
    )
