"""Review decisions: stored in the database AND appended to the ledger.

A machine match is never a claim until a person confirms it. Each decision becomes a
``review-decision`` statement (:func:`copyseal.ledger.statements.review_decision`) naming
the match, the reviewer, the time and the leaf hash of the evidence bundle the reviewer
looked at, so the chain of custody (registration → capture → review → export) is in the
ledger. The newest decision on a match is its review status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from copyseal.db.schema.bundle import EvidenceBundle
from copyseal.db.schema.crawl import CrawlMatch
from copyseal.db.schema.review import Decision
from copyseal.ledger import statements
from copyseal.review.errors import NotFound, ReviewError
from copyseal.review.users import UserRecord, require
from copyseal.times import iso, now, utc
from copyseal.workspace import Workspace

__all__ = [
    "DECISIONS",
    "REJECT_REASONS",
    "STATUSES",
    "SYSTEM_DECISIONS",
    "SYSTEM_REVIEWER",
    "DecisionRecord",
    "decide",
    "finding_id",
    "history",
    "record_licensed",
]

#: What a reviewer can decide.
DECISIONS: Final = ("confirmed", "rejected", "needs-more-info")
#: Why a match is rejected.
REJECT_REASONS: Final = ("false-match", "licensed-use", "own-use", "other")
#: What copyseal itself decides: a match covered by a licence (:mod:`copyseal.licences`).
SYSTEM_DECISIONS: Final = ("licensed",)
#: The reviewer named in the decisions copyseal makes.
SYSTEM_REVIEWER: Final = "copyseal"
#: A match's review status: ``new`` (no decision yet) or its newest decision.
STATUSES: Final = ("new", *DECISIONS, *SYSTEM_DECISIONS)
MAX_COMMENT: Final = 4000


def finding_id(match_id: int) -> str:
    """The ``finding_id`` of a match in review statements."""
    return f"match/{match_id}"


@dataclass(frozen=True, kw_only=True)
class DecisionRecord:
    """A stored decision and where its statement sits in the ledger."""

    decision_id: int
    match_id: int
    decision: str
    reason: str | None
    comment: str
    reviewer: str
    decided_at: datetime
    ledger_index: int

    @classmethod
    def from_row(cls, row: Decision) -> DecisionRecord:
        return cls(
            decision_id=row.id,
            match_id=row.match_id,
            decision=row.decision,
            reason=row.reason,
            comment=row.comment,
            reviewer=row.reviewer,
            decided_at=utc(row.decided_at),
            ledger_index=row.ledger_index,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "match_id": self.match_id,
            "decision": self.decision,
            "reason": self.reason,
            "comment": self.comment,
            "reviewer": self.reviewer,
            "decided_at": iso(self.decided_at),
            "ledger_index": self.ledger_index,
        }


def _validate(decision: str, reason: str | None, comment: str) -> tuple[str | None, str]:
    comment = comment.strip()
    if decision not in DECISIONS:
        raise ReviewError(f"unknown decision {decision!r}; one of {', '.join(DECISIONS)}")
    if len(comment) > MAX_COMMENT:
        raise ReviewError(f"a comment is at most {MAX_COMMENT} characters")
    if decision == "rejected":
        if reason not in REJECT_REASONS:
            raise ReviewError(f"a rejection needs a reason: one of {', '.join(REJECT_REASONS)}")
        if reason == "other" and not comment:
            raise ReviewError("a rejection for another reason needs a comment saying why")
    else:
        reason = None
    if decision == "needs-more-info" and not comment:
        raise ReviewError("say what information is needed (a comment)")
    return reason, comment


def decide(
    ws: Workspace,
    user: UserRecord,
    *,
    match_id: int,
    decision: str,
    reason: str | None = None,
    comment: str = "",
) -> DecisionRecord:
    """Record ``user``'s decision on a match and append it to the ledger.

    Raises:
        PermissionDenied: the user's role may not decide.
        NotFound: no such match.
        ReviewError: an unknown decision, or a rejection without its reason.
    """
    require(user, "decide")
    reason, comment = _validate(decision, reason, comment)
    with Session(ws.engine) as s:
        match = s.get(CrawlMatch, match_id)
        if match is None:
            raise NotFound(f"no match {match_id}")
        bundle = s.get(EvidenceBundle, match.bundle_id) if match.bundle_id else None
        evidence_leaf = bundle.leaf_hash if bundle is not None else None
    at = now()
    if decision == "rejected":
        text: str | None = f"{reason}: {comment}" if comment else reason
    else:
        text = comment or None
    data = statements.review_decision(
        finding_id=finding_id(match_id),
        decision=decision,
        reviewer=user.name,
        time=at,
        evidence_leaf=evidence_leaf,
        reason=text,
    )
    (index,) = ws.ledger().append([(statements.REVIEW_DECISION, data)])
    row = Decision(
        match_id=match_id,
        decision=decision,
        reason=reason,
        comment=comment,
        user_id=user.user_id,
        reviewer=user.name,
        decided_at=at,
        ledger_index=index,
    )
    with Session(ws.engine) as s, s.begin():
        s.add(row)
        s.flush()
        return DecisionRecord.from_row(row)


def record_licensed(
    ws: Workspace, licensed: Sequence[tuple[int, str]], *, at: datetime | None = None
) -> list[DecisionRecord]:
    """Record copyseal's ``licensed`` decision on matches a licence covers:
    ``(match_id, licence_id)`` pairs, appended to the ledger in one batch (one checkpoint)
    as ``review-decision`` statements by :data:`SYSTEM_REVIEWER` naming the licence."""
    if not licensed:
        return []
    at = at or now()
    with Session(ws.engine) as s:
        ids = [m for m, _ in licensed]
        bundles: dict[int, str] = {
            match_id: leaf
            for match_id, leaf in s.execute(
                select(CrawlMatch.id, EvidenceBundle.leaf_hash)
                .join(EvidenceBundle, EvidenceBundle.bundle_id == CrawlMatch.bundle_id)
                .where(CrawlMatch.id.in_(ids))
            )
        }
    data = [
        (
            statements.REVIEW_DECISION,
            statements.review_decision(
                finding_id=finding_id(match_id),
                decision="licensed",
                reviewer=SYSTEM_REVIEWER,
                time=at,
                evidence_leaf=bundles.get(match_id),
                reason=f"licence {licence_id}",
                licence=licence_id,
            ),
        )
        for match_id, licence_id in licensed
    ]
    indexes = ws.ledger().append(data)
    rows = [
        Decision(
            match_id=match_id,
            decision="licensed",
            reason=None,
            comment=f"licence {licence_id}",
            user_id=None,
            reviewer=SYSTEM_REVIEWER,
            decided_at=at,
            ledger_index=index,
        )
        for (match_id, licence_id), index in zip(licensed, indexes, strict=True)
    ]
    with Session(ws.engine) as s, s.begin():
        s.add_all(rows)
        s.flush()
        return [DecisionRecord.from_row(r) for r in rows]


def history(ws: Workspace, match_id: int) -> list[DecisionRecord]:
    """Every decision on a match, newest first."""
    with Session(ws.engine) as s:
        rows = s.scalars(
            select(Decision).where(Decision.match_id == match_id).order_by(Decision.id.desc())
        )
        return [DecisionRecord.from_row(r) for r in rows]
