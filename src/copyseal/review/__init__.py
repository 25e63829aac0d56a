"""Review: people confirm or reject machine matches, and group confirmed ones into cases.

Accounts with roles (viewer, reviewer, legal, admin) and Argon2id passwords, sessions
with CSRF tokens and login throttling (:mod:`~copyseal.review.users`); decisions stored
and appended to the ledger (:mod:`~copyseal.review.decisions`); the queue with filters,
sorting and counts (:mod:`~copyseal.review.queue`); cases (:mod:`~copyseal.review.cases`);
the dashboard's aggregates (:mod:`~copyseal.review.dashboard`); live bundle verification
and safe access to bundle files (:mod:`~copyseal.review.evidence`). The web app and the
CLI are thin faces over these calls.
"""

from copyseal.review.cases import (
    CaseRecord,
    ExportRecord,
    add_matches,
    create_case,
    get_case,
    list_cases,
)
from copyseal.review.decisions import (
    DECISIONS,
    REJECT_REASONS,
    STATUSES,
    DecisionRecord,
    decide,
    history,
)
from copyseal.review.errors import AuthError, NotFound, PermissionDenied, ReviewError, Throttled
from copyseal.review.queue import MatchItem, QueueFilter, QueueItem, QueuePage, match_item, queue
from copyseal.review.users import ROLES, SessionInfo, UserRecord, add_user, authenticate, list_users

__all__ = [
    "DECISIONS",
    "REJECT_REASONS",
    "ROLES",
    "STATUSES",
    "AuthError",
    "CaseRecord",
    "DecisionRecord",
    "ExportRecord",
    "MatchItem",
    "NotFound",
    "PermissionDenied",
    "QueueFilter",
    "QueueItem",
    "QueuePage",
    "ReviewError",
    "SessionInfo",
    "Throttled",
    "UserRecord",
    "add_matches",
    "add_user",
    "authenticate",
    "create_case",
    "decide",
    "get_case",
    "history",
    "list_cases",
    "list_users",
    "match_item",
    "queue",
]
