"""The table of anchor kinds, and building the anchors a configuration chooses.

Adding a kind is one class implementing :class:`~copyseal.anchors.base.Anchor` (with a
``from_context`` class method) and one entry here; the conformance kit in
``tests/unit/anchors`` then runs against it. ``anchors.kinds`` in the configuration names
the kinds a workspace anchors its checkpoints with.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping

from copyseal.anchors import ledger
from copyseal.anchors.base import Anchor, AnchorContext, AnchorError, AnchorFactory

__all__ = ["ANCHORS", "DEFAULT_KINDS", "RECEIPT_KIND", "anchor_for", "configured"]


class _KindTable(Mapping[str, AnchorFactory]):
    """A read-only table of kinds whose classes are imported when first looked up.

    Verifying a receipt or a bundle needs only the ``ledger`` kind; the others bring
    web3's and pycryptodome's (``evm``) or rfc3161-client's and cryptography's
    (``rfc3161``) imports, about 0.1-0.2 s of start-up on the development machine, which
    ``copyseal verify`` should not pay unless a proof of that kind is checked.
    """

    def __init__(self, paths: Mapping[str, str]) -> None:
        self._paths = dict(paths)
        self._loaded: dict[str, AnchorFactory] = {}

    def __getitem__(self, kind: str) -> AnchorFactory:
        factory = self._loaded.get(kind)
        if factory is None:
            module, _, name = self._paths[kind].partition(":")
            factory = getattr(importlib.import_module(module), name)
            self._loaded[kind] = factory
        return factory

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


#: Every anchor kind, by the name ``anchors.kinds`` uses (Scrapy's ``STORE_SCHEMES``
#: habit), each a ``module:class`` imported on first use.
ANCHORS: Mapping[str, AnchorFactory] = _KindTable(
    {
        ledger.KIND: "copyseal.anchors.ledger:LedgerAnchor",
        "rfc3161": "copyseal.anchors.rfc3161:TsaAnchor",
        "evm": "copyseal.anchors.evm:EvmAnchor",
        "witness": "copyseal.anchors.witness:WitnessAnchor",
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
