"""Evidence anchors: one protocol, a table of kinds, and the ledger's own signed checkpoint.

An anchor commits a ledger checkpoint and later proves it offline, from a self-contained
proof and public keys (see :mod:`copyseal.anchors.base`). Kinds are looked up in
:data:`ANCHORS` by the names the configuration's ``anchors.kinds`` lists; today's only
kind is ``ledger`` (:class:`LedgerAnchor`: the checkpoint note signed by the log's own
key, which every receipt and bundle carries). The bundle writer, bundle verification and
receipt verification reach anchors only through this package.

Importing it loads the ledger's pure modules only: no database, no network.
"""

from __future__ import annotations

from copyseal.anchors.base import (
    Anchor,
    AnchorContext,
    AnchorError,
    AnchorFactory,
    AnchorRecord,
    AnchorVerificationError,
    Proven,
)
from copyseal.anchors.ledger import LedgerAnchor, stated_checkpoint, verify_stated
from copyseal.anchors.table import ANCHORS, DEFAULT_KINDS, RECEIPT_KIND, anchor_for, configured

__all__ = [
    "ANCHORS",
    "DEFAULT_KINDS",
    "RECEIPT_KIND",
    "Anchor",
    "AnchorContext",
    "AnchorError",
    "AnchorFactory",
    "AnchorRecord",
    "AnchorVerificationError",
    "LedgerAnchor",
    "Proven",
    "anchor_for",
    "configured",
    "stated_checkpoint",
    "verify_stated",
]
