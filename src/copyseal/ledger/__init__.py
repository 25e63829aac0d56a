"""The ledger: an append-only RFC 9162 Merkle log with C2SP signed checkpoints.

Every fact copyseal asserts becomes a leaf (a canonical JSON statement, see
:mod:`copyseal.ledger.statements`); checkpoints are C2SP ``tlog-checkpoint`` signed notes
and receipts are C2SP ``tlog-proof@v1`` texts that anyone can check offline with
:func:`verify_receipt` and the log's vkey.

The pure modules (:mod:`~copyseal.ledger.merkle`, :mod:`~copyseal.ledger.note`,
:mod:`~copyseal.ledger.checkpoint`, :mod:`~copyseal.ledger.proof`,
:mod:`~copyseal.ledger.statements`) never import the database layer; :class:`Ledger`
(the store) is imported lazily so offline verification stays free of SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from copyseal._lazy import attribute_loader
from copyseal.ledger.checkpoint import Checkpoint
from copyseal.ledger.merkle import leaf_hash
from copyseal.ledger.proof import Receipt, verify_receipt

if TYPE_CHECKING:
    from copyseal.ledger._audit import AuditProblem, AuditReport
    from copyseal.ledger.store import Entry, Ledger, LedgerStatus, SignedCheckpoint

__all__ = [
    "AuditProblem",
    "AuditReport",
    "Checkpoint",
    "Entry",
    "Ledger",
    "LedgerStatus",
    "Receipt",
    "SignedCheckpoint",
    "leaf_hash",
    "verify_receipt",
]

_LAZY = {
    "AuditProblem": "copyseal.ledger._audit",
    "AuditReport": "copyseal.ledger._audit",
    "Entry": "copyseal.ledger.store",
    "Ledger": "copyseal.ledger.store",
    "LedgerStatus": "copyseal.ledger.store",
    "SignedCheckpoint": "copyseal.ledger.store",
}


# The store (and SQLAlchemy) is imported only when one of its names is used (PEP 562).
__getattr__ = attribute_loader(__name__, _LAZY)
