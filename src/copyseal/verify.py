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

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from copyseal.anchors import RECEIPT_KIND, AnchorContext, anchor_for, verify_stated
from copyseal.anchors.base import Proven
from copyseal.errors import LedgerError, VerificationError
from copyseal.ledger.checkpoint import Checkpoint
from copyseal.ledger.merkle import HASH_SIZE, leaf_hash, verify_inclusion
from copyseal.ledger.proof import parse_receipt
from copyseal.ledger.statements import WORK_REGISTRATION, load_statement
from copyseal.times import iso

if TYPE_CHECKING:
    from copyseal.anchors.proof_file import LoggedEntry, ProofCheck

__all__ = [
    "AnchoredReceipt",
    "ReceiptVerification",
    "load_vkey",
    "verify_anchored_receipt",
    "verify_receipt_file",
]

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


@dataclass(frozen=True, kw_only=True)
class AnchoredReceipt:
    """A verified receipt with its anchor proof file's checks (``anchor-consistency``,
    ``anchor:KIND:NAME``, …) and, when the file carries the logged statement, that
    statement and what it proves of the data (``subject``: ``work w… (sha256 …)``)."""

    receipt: ReceiptVerification
    checks: tuple[ProofCheck, ...]
    statement: Mapping[str, Any] | None
    subject: str

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def proven(self) -> list[Proven]:
        return [c.proven for c in self.checks if c.ok and c.proven is not None]

    def claims(self) -> list[str]:
        """One sentence per anchor that vouches for a time: what existed no later than when,
        by whom (``work w… (sha256 …) existed no later than T, by TSA X``)."""
        out = []
        for p in self.proven:
            if p.time is None:
                continue
            by = {
                "rfc3161": f"by TSA {p.name}",
                "evm": f"in block {p.block} of EVM anchor {p.name}",
                "witness": f"cosigned by witness {p.name}",
            }.get(p.kind, f"by {p.kind} anchor {p.name}")
            out.append(f"{self.subject} existed no later than {iso(p.time)}, {by}")
        return out


def _logged(data: bytes, entry: LoggedEntry | None) -> tuple[bytes, Mapping[str, Any] | None, str]:
    """The leaf data to prove, the statement the proof file carries, and the subject:
    ``data`` itself, or (a work's registration) the statement naming ``data``'s SHA-256."""
    if entry is None:
        return data, None, f"leaf hash {leaf_hash(data).hex()}"
    try:
        statement = load_statement(entry.data)
    except LedgerError as e:
        raise VerificationError(f"anchor proof file: the entry's data: {e}") from e
    if data == entry.data:
        return entry.data, statement, f"entry {entry.index} ({statement.get('type')})"
    if statement.get("type") != WORK_REGISTRATION:
        raise VerificationError(
            f"the data is not entry {entry.index} that the anchor proof file carries"
        )
    digest = hashlib.sha256(data).hexdigest()
    if statement.get("original_sha256") != digest:
        raise VerificationError(
            f"the data's SHA-256 {digest} is not the registered original's"
            f" ({statement.get('original_sha256')})"
        )
    return entry.data, statement, f"work {statement.get('work_id')} (sha256 {digest})"


def verify_anchored_receipt(
    receipt: Path,
    *,
    vkey: str,
    data: Path | bytes,
    anchor_proof: bytes,
    options: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    min_witnesses: int = 0,
    online: bool = False,
    origin: str | None = None,
) -> AnchoredReceipt:
    """Verify a receipt and an anchor proof file that starts at its checkpoint, offline.

    For a work's registration (``copyseal works anchor-proof``) ``data`` is the original
    picture: the file carries the registration statement, whose ``original_sha256`` must
    be the data's, and the receipt proves that statement. Otherwise ``data`` is the logged
    bytes themselves.

    Raises:
        VerificationError: the receipt, the data or the proof file's entry is wrong. A
            failed anchor check does not raise: it is in ``checks``.
    """
    from copyseal.anchors.proof_file import parse_proof_file, verify_proof_file

    if isinstance(data, Path):
        data = _read(data, "data file")
    parsed = parse_proof_file(anchor_proof)
    logged, statement, subject = _logged(data, parsed.entry)
    result = verify_receipt_file(receipt, vkey=vkey, data=logged, origin=origin)
    if parsed.entry is not None and parsed.entry.index != result.index:
        raise VerificationError(
            f"the anchor proof file is for entry {parsed.entry.index}, the receipt for"
            f" entry {result.index}"
        )
    checks = verify_proof_file(
        anchor_proof,
        checkpoint=Checkpoint(origin=result.origin, size=result.size, root=result.root),
        vkey=load_vkey(vkey),
        options=options,
        min_witnesses=min_witnesses,
        online=online,
    )
    return AnchoredReceipt(
        receipt=result, checks=tuple(checks), statement=statement, subject=subject
    )
