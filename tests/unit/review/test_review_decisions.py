"""Decisions are stored and appended to the ledger; the queue filters, sorts and counts."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from copyseal.ledger import statements
from copyseal.review.decisions import decide, history
from copyseal.review.errors import NotFound, PermissionDenied, ReviewError
from copyseal.review.queue import QueueFilter, match_item, queue
from copyseal.workspace import Workspace


def test_a_decision_is_stored_and_logged(
    workspace: Workspace, people: Any, seeded: list[int]
) -> None:
    rita = people["rita"]
    first = decide(workspace, rita, match_id=seeded[0], decision="confirmed", comment="same photo")
    second = decide(
        workspace,
        rita,
        match_id=seeded[0],
        decision="rejected",
        reason="licensed-use",
        comment="licence #42",
    )
    entry = workspace.ledger().entry(second.ledger_index)
    assert entry.entry_type == statements.REVIEW_DECISION
    logged = json.loads(entry.data)
    assert logged == {
        "type": "review-decision",
        "finding_id": f"match/{seeded[0]}",
        "decision": "rejected",
        "reason": "licensed-use: licence #42",
        "reviewer": "rita",
        "time": logged["time"],
    }
    assert first.ledger_index < second.ledger_index
    assert [d.decision for d in history(workspace, seeded[0])] == ["rejected", "confirmed"]
    assert match_item(workspace, seeded[0]).item.status == "rejected"


def test_needs_more_info_is_a_logged_decision(
    workspace: Workspace, people: Any, seeded: list[int]
) -> None:
    d = decide(
        workspace,
        people["alice"],
        match_id=seeded[1],
        decision="needs-more-info",
        comment="is this the shop's own licence?",
    )
    assert (
        json.loads(workspace.ledger().entry(d.ledger_index).data)["decision"] == "needs-more-info"
    )
    assert statements.review_decision(
        finding_id="x",
        decision="needs-more-info",
        reviewer="r",
        time=d.decided_at,
    ).startswith(b'{"decision":"needs-more-info"')


@pytest.mark.parametrize(
    ("decision", "reason", "comment", "message"),
    [
        ("maybe", None, "", "unknown decision"),
        ("rejected", None, "", "needs a reason"),
        ("rejected", "other", "", "needs a comment"),
        ("needs-more-info", None, " ", "what information"),
    ],
)
def test_incomplete_decisions_are_refused(
    workspace: Workspace,
    people: Any,
    seeded: list[int],
    decision: str,
    reason: str | None,
    comment: str,
    message: str,
) -> None:
    size = workspace.ledger().size()
    with pytest.raises(ReviewError, match=message):
        decide(
            workspace,
            people["rita"],
            match_id=seeded[0],
            decision=decision,
            reason=reason,
            comment=comment,
        )
    assert workspace.ledger().size() == size and history(workspace, seeded[0]) == []


@pytest.mark.parametrize("name", ["vera", "lars"])
def test_only_reviewers_and_admins_decide(
    workspace: Workspace, people: Any, seeded: list[int], name: str
) -> None:
    with pytest.raises(PermissionDenied, match="may not decide"):
        decide(workspace, people[name], match_id=seeded[0], decision="confirmed")
    assert history(workspace, seeded[0]) == []


def test_unknown_match(workspace: Workspace, people: Any, seeded: list[int]) -> None:
    with pytest.raises(NotFound, match="no match 999"):
        decide(workspace, people["rita"], match_id=999, decision="confirmed")


def test_queue_filters_sorts_and_counts(
    workspace: Workspace, people: Any, seeded: list[int]
) -> None:
    rita = people["rita"]
    decide(workspace, rita, match_id=seeded[0], decision="confirmed")
    decide(workspace, rita, match_id=seeded[2], decision="rejected", reason="false-match")
    page = queue(workspace)
    assert page.total == 5 and page.counts == {
        "new": 3,
        "confirmed": 1,
        "rejected": 1,
        "needs-more-info": 0,
        "licensed": 0,
    }
    assert [i.match_id for i in page.items] == list(reversed(seeded))  # newest first
    strongest = queue(workspace, QueueFilter(sort="strongest"))
    assert [i.score for i in strongest.items] == [0.9, 0.8, 0.7, 0.6, 0.5]
    a_new = queue(workspace, QueueFilter(site="a.example", status="new"))
    assert {i.match_id for i in a_new.items} == {seeded[1], seeded[4]}
    assert a_new.counts["confirmed"] == 1 and a_new.counts["rejected"] == 0
    scored = queue(workspace, QueueFilter(min_score=0.6, max_score=0.8))
    assert {i.score for i in scored.items} == {0.6, 0.7, 0.8}
    dated = queue(workspace, QueueFilter(found_from=date(2026, 3, 2), found_to=date(2026, 3, 3)))
    assert {i.match_id for i in dated.items} == {seeded[1], seeded[2]}
    paged = queue(workspace, QueueFilter(limit=2, offset=2))
    assert paged.total == 5 and len(paged.items) == 2
    assert page.sites == ("a.example", "b.example")
    with pytest.raises(ReviewError, match="unknown status"):
        QueueFilter(status="done")
    with pytest.raises(ReviewError, match="unknown sort"):
        QueueFilter(sort="random")
