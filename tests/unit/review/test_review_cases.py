"""Cases group confirmed matches; only legal and admins manage them."""

from __future__ import annotations

from typing import Any

import pytest

from copyseal.review.cases import add_matches, create_case, get_case, list_cases
from copyseal.review.decisions import decide
from copyseal.review.errors import NotFound, PermissionDenied, ReviewError
from copyseal.workspace import Workspace


def test_a_case_holds_confirmed_matches_of_one_domain(
    workspace: Workspace, people: Any, seeded: list[int]
) -> None:
    for m in (seeded[0], seeded[1], seeded[2]):
        decide(workspace, people["rita"], match_id=m, decision="confirmed")
    case = create_case(
        workspace, people["lars"], title="  Shop   A ", match_ids=[seeded[0], seeded[1]]
    )
    assert case.title == "Shop A" and case.domain == "a.example" and case.created_by == "lars"
    assert case.match_ids == (seeded[0], seeded[1])
    grown = add_matches(workspace, people["alice"], case.case_id, [seeded[2], seeded[0]])
    assert set(grown.match_ids) == {seeded[0], seeded[1], seeded[2]}
    assert grown.domain is None  # now two domains
    assert [c.case_id for c in list_cases(workspace)] == [case.case_id]
    assert get_case(workspace, case.case_id).to_json()["match_ids"] == list(grown.match_ids)


def test_unconfirmed_matches_and_wrong_roles_are_refused(
    workspace: Workspace, people: Any, seeded: list[int]
) -> None:
    with pytest.raises(ReviewError, match="only confirmed matches"):
        create_case(workspace, people["lars"], title="x", match_ids=[seeded[0]])
    decide(workspace, people["rita"], match_id=seeded[0], decision="confirmed")
    with pytest.raises(PermissionDenied, match="may not cases"):
        create_case(workspace, people["rita"], title="x", match_ids=[seeded[0]])
    with pytest.raises(ReviewError, match="title"):
        create_case(workspace, people["lars"], title=" ", match_ids=[seeded[0]])
    with pytest.raises(ReviewError, match="at least one"):
        create_case(workspace, people["lars"], title="x", match_ids=[])
    with pytest.raises(NotFound):
        create_case(workspace, people["lars"], title="x", match_ids=[424242])
    with pytest.raises(NotFound):
        get_case(workspace, "case-nope")
    assert list_cases(workspace) == []
