"""The anchor seam: what every anchor kind implements, and the values it exchanges.

An *anchor* commits a log's checkpoint (origin, tree size, RFC 9162 root) somewhere a
stranger can check it later, and then proves it offline from a self-contained proof and
public keys alone. Anchors know only checkpoints (:class:`~copyseal.ledger.Checkpoint`):
one anchor of a checkpoint covers every ledger entry up to its size, through the RFC 9162
consistency proofs the ledger's pure functions check. They never see a bundle, a crawl or
the database.

The life of an anchor: :meth:`Anchor.anchor` commits a checkpoint and returns an
:class:`AnchorRecord`; :meth:`Anchor.prove` turns a record into proof bytes that stand
alone; :meth:`Anchor.verify` checks proof bytes against a checkpoint and says what they
prove (:class:`Proven`: the checkpoint, and a time or a block when the kind gives one).
Verification raises nothing but :class:`~copyseal.errors.VerificationError`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol

from copyseal.errors import AnchorError, AnchorVerificationError
from copyseal.ledger.checkpoint import Checkpoint
from copyseal.ledger.note import NoteSigner
from copyseal.times import iso, utc_or_none

__all__ = [
    "Anchor",
    "AnchorContext",
    "AnchorError",
    "AnchorFactory",
    "AnchorRecord",
    "AnchorVerificationError",
    "Proven",
]


@dataclass(frozen=True, kw_only=True)
class AnchorRecord:
    """What an anchor returned when it committed a checkpoint.

    ``payload`` is the kind's own evidence, in the kind's own format (for the ledger's
    own anchor: the signed checkpoint note); :meth:`Anchor.prove` turns a record into a
    self-contained proof.
    """

    kind: str
    name: str
    checkpoint: Checkpoint
    payload: bytes
    #: When the anchor says it committed the checkpoint (None: the kind gives no time).
    anchored_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "anchored_at", utc_or_none(self.anchored_at))


@dataclass(frozen=True, kw_only=True)
class Proven:
    """What a verified anchor proof proves: checkpoint ``size`` / ``root`` of log ``origin``
    was committed by anchor ``name`` of ``kind`` — no later than ``time``, or in
    ``block``, when the kind vouches for one.

    ``detail`` is one line saying so, for people.
    """

    kind: str
    name: str
    origin: str
    size: int
    root: bytes
    detail: str
    time: datetime | None = None
    block: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "time", utc_or_none(self.time))

    @property
    def checkpoint(self) -> Checkpoint:
        """The proven tree head (without extension lines)."""
        return Checkpoint(origin=self.origin, size=self.size, root=self.root)

    def to_json(self) -> dict[str, Any]:
        """JSON-safe: the root in base64 (as in checkpoints), the time in RFC 3339."""
        return {
            "kind": self.kind,
            "name": self.name,
            "origin": self.origin,
            "size": self.size,
            "root": base64.b64encode(self.root).decode("ascii"),
            "time": iso(self.time),
            "block": self.block,
            "detail": self.detail,
        }


@dataclass(frozen=True, kw_only=True)
class AnchorContext:
    """What anchors are built from: the log's public identity, and to anchor, its signer.

    A verifier builds anchors from public keys alone (``vkey``, trusted from elsewhere);
    the workspace adds the log's ``signer`` to anchor.
    """

    #: The log's note verifier key (``name+keyid+key``).
    vkey: str
    #: The origin checkpoints must carry (default: the vkey's key name, as C2SP advises).
    origin: str | None = None
    #: The log's checkpoint signer; only needed to anchor (kept out of the repr).
    signer: NoteSigner | None = field(default=None, repr=False)
    #: Which configured anchor of its kind to build (``anchors.evm.NAME`` …); None for a
    #: kind that has one instance (the ledger's own).
    name: str | None = None
    #: That anchor's configuration entry (URLs, key files, …), paths already resolved
    #: against the workspace. Empty for verification from public material alone.
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def for_signer(cls, signer: NoteSigner) -> AnchorContext:
        """A context that can anchor and verify: the signer's key and name (the origin)."""
        return cls(vkey=signer.vkey, signer=signer)


class Anchor(Protocol):
    """One anchor: commits checkpoints and proves them offline.

    Implementations raise :class:`AnchorError` when they cannot anchor, and nothing but
    :class:`~copyseal.errors.VerificationError` (usually :class:`AnchorVerificationError`)
    from :meth:`verify`, which needs no database and no network.
    """

    @property
    def kind(self) -> str:
        """The kind's key in :data:`copyseal.anchors.ANCHORS` (``ledger``, …)."""
        ...

    @property
    def name(self) -> str:
        """Which anchor of its kind this is (for the ledger's own: the log's key name)."""
        ...

    def anchor(self, checkpoint: Checkpoint) -> AnchorRecord:
        """Commit ``checkpoint``.

        Raises:
            AnchorError: the anchor cannot commit it now.
        """
        ...

    def prove(self, record: AnchorRecord) -> bytes:
        """A self-contained proof of the record's checkpoint.

        Raises:
            AnchorError: the record is not this anchor's, or the proof cannot be built.
        """
        ...

    def verify(self, proof: bytes, checkpoint: Checkpoint) -> Proven:
        """Check offline that ``proof`` proves ``checkpoint``, and say what it proves.

        Raises:
            VerificationError: anything at all is wrong.
        """
        ...


class AnchorFactory(Protocol):
    """A table entry: builds the kind's anchor from a context (an anchor class itself,
    with a ``from_context`` class method, the way Scrapy builds components
    ``from_crawler``)."""

    def from_context(self, context: AnchorContext) -> Anchor:
        """The anchor for ``context``.

        Raises:
            VerificationError: the context's public key is malformed.
            AnchorError: the context does not fit the kind (a signer of another key).
        """
        ...
