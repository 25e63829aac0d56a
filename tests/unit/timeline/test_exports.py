"""The timeline package's public names are pinned (changing them is a decision)."""

from __future__ import annotations

import copyseal.timeline


def test_public_names_are_pinned() -> None:
    assert sorted(copyseal.timeline.__all__) == [
        "GONE",
        "MatchTimeline",
        "NoticeEvent",
        "RESULTS",
        "SIGHTINGS",
        "SiteTimeline",
        "Visit",
        "case_timelines",
        "match_timeline",
        "site_timeline",
        "timelines",
    ]
    for name in copyseal.timeline.__all__:
        assert getattr(copyseal.timeline, name) is not None
