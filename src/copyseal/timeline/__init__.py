"""The infringer's record over time: a timeline per site and per match.

Built from the first capture of each match, its re-visits (``match_visits``, written by
``copyseal revisit``) and the takedown notices sent for its cases (``case_notices``).
``copyseal timeline``, the review app, and the case export and its PDF show it.
"""

from copyseal.timeline.model import (
    GONE,
    RESULTS,
    SIGHTINGS,
    MatchTimeline,
    NoticeEvent,
    SiteTimeline,
    Visit,
)
from copyseal.timeline.query import case_timelines, match_timeline, site_timeline, timelines

__all__ = [
    "GONE",
    "RESULTS",
    "SIGHTINGS",
    "MatchTimeline",
    "NoticeEvent",
    "SiteTimeline",
    "Visit",
    "case_timelines",
    "match_timeline",
    "site_timeline",
    "timelines",
]
