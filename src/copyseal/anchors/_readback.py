"""Reading anchored checkpoints back from the anchors themselves, for ``ledger audit``.

The workspace's own ``anchor_records`` say what was anchored, but whoever can rewrite the
log can rewrite those rows too. A kind that can be asked what it holds now — the chain's
contract (``evm``), a witness's latest cosigned checkpoint (``witness``) — offers a
``read_back() -> Checkpoint`` hook; the log must still be at least that long and have that
root at that size. (RFC 3161 tokens are kept only by the workspace, so they are audited
through the records.)
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from copyseal.anchors._build import Configured, build
from copyseal.errors import CopysealError
from copyseal.ledger import AuditProblem, Ledger
from copyseal.ledger.checkpoint import Checkpoint
from copyseal.workspace import Workspace

__all__ = ["ReadBack", "disagreement", "read_back"]


@dataclass(frozen=True, kw_only=True)
class ReadBack:
    """What one anchor holds now (``checkpoint``), or why it could not be asked."""

    kind: str
    name: str
    checkpoint: Checkpoint | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        cp = self.checkpoint
        return {
            "kind": self.kind,
            "name": self.name,
            "size": None if cp is None else cp.size,
            "root": None if cp is None else base64.b64encode(cp.root).decode("ascii"),
            "error": self.error,
        }


def read_back(ws: Workspace, *, anchors: Sequence[Configured] | None = None) -> list[ReadBack]:
    """Ask every configured anchor that can say what it holds (network calls; an anchor
    that is down is reported with its error, never raised)."""
    out = []
    for c in build(ws) if anchors is None else anchors:
        hook = getattr(c.anchor, "read_back", None)
        if hook is None:
            continue
        try:
            out.append(ReadBack(kind=c.kind, name=c.name, checkpoint=hook()))
        except CopysealError as e:
            out.append(ReadBack(kind=c.kind, name=c.name, error=str(e)))
    return out


def disagreement(ledger: Ledger, backs: Sequence[ReadBack]) -> AuditProblem | None:
    """The first way the log contradicts what an anchor holds, in ``ledger audit``'s
    terms, or None.

    A log shorter than an anchored size was truncated (``missing-entry``); another root at
    that size means its history was rewritten (``rewritten-history``).
    """
    size = ledger.size()
    held = [(b, b.checkpoint) for b in backs if b.checkpoint is not None and b.checkpoint.size]
    for b, cp in sorted(held, key=lambda pair: -pair[1].size):
        who = f"{b.kind}:{b.name}"
        if cp.size > size:
            return AuditProblem(
                kind="missing-entry",
                index=size,
                message=f"the log has only {size} entries, fewer than size {cp.size} that"
                f" {who} holds now: it was truncated",
            )
        if ledger.root_at(cp.size) != cp.root:
            return AuditProblem(
                kind="rewritten-history",
                index=cp.size,
                message=f"the log's root at size {cp.size} is not the one {who} holds now:"
                " its history was rewritten",
            )
    return None
