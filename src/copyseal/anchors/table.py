"""The table of anchor kinds, and building the anchors a configuration chooses.

Adding a kind is one class implementing :class:`~copyseal.anchors.base.Anchor` (with a
``from_context`` class method) and one entry here; the conformance kit in
``tests/unit/anchors`` then runs against it. ``anchors.kinds`` in the configuration names
the kinds a workspace anchors its checkpoints with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from copyseal.anchors import evm, ledger, rfc3161, witness
from copyseal.anchors.base import Anchor, AnchorContext, AnchorError, AnchorFactory

__all__ = ["ANCHORS", "DEFAULT_KINDS", "RECEIPT_KIND", "anchor_for", "configured"]

#: Every anchor kind, by the name ``anchors.kinds`` uses (Scrapy's ``STORE_SCHEMES`` habit).
ANCHORS: Mapping[str, AnchorFactory] = MappingProxyType(
    {
        ledger.KIND: ledger.LedgerAnchor,
        rfc3161.KIND: rfc3161.TsaAnchor,
        evm.KIND: evm.EvmAnchor,
        witness.KIND: witness.WitnessAnchor,
    }
)

#: The kind whose proof a receipt (C2SP tlog-proof) and therefore every bundle carries: a
#: receipt's checkpoint is a note signed by the log's key.
RECEIPT_KIND = ledger.KIND

#: What ``anchors.kinds`` defaults to: the ledger's own signed checkpoints.
DEFAULT_KINDS: tuple[str, ...] = (ledger.KIND,)


def anchor_for(kind: str, context: AnchorContext) -> Anchor:
    """The anchor of ``kind`` built from ``context``.

    Raises:
        AnchorError: no such kind.
        VerificationError: the context's public key is malformed.
    """
    factory = ANCHORS.get(kind)
    if factory is None:
        known = ", ".join(sorted(ANCHORS))
        raise AnchorError(f"unknown anchor kind {kind!r} (known: {known})")
    return factory.from_context(context)


def configured(kinds: Iterable[str], context: AnchorContext) -> tuple[Anchor, ...]:
    """The anchors of ``kinds`` (e.g. ``settings.anchors.kinds``), in that order.

    Raises:
        AnchorError: an unknown kind.
        VerificationError: the context's public key is malformed.
    """
    return tuple(anchor_for(kind, context) for kind in kinds)
