"""Registering a rights holder's works, and the matcher that finds them.

:func:`build_matcher` is the one factory of the workspace's matcher (the crawl's, sealing's
and ``copyseal match``'s), chosen by ``match.matcher`` from :data:`MATCHERS`; callers use
it through :class:`WorkMatcher`.
"""

from copyseal.registry._matcher import ExactMatch, WorkspaceMatcher, match_config
from copyseal.registry._works import (
    RegistrationFailure,
    WorkRecord,
    anchor_pending,
    iter_image_files,
    list_works,
    original_path,
    register_paths,
    remove_work,
    stored_rights,
    work_id_for,
)
from copyseal.registry.matchers import (
    MATCHERS,
    MatcherFactory,
    MatchLike,
    WorkMatcher,
    build_matcher,
)

__all__ = [
    "MATCHERS",
    "ExactMatch",
    "MatchLike",
    "MatcherFactory",
    "RegistrationFailure",
    "WorkMatcher",
    "WorkRecord",
    "WorkspaceMatcher",
    "anchor_pending",
    "build_matcher",
    "iter_image_files",
    "list_works",
    "match_config",
    "original_path",
    "register_paths",
    "remove_work",
    "stored_rights",
    "work_id_for",
]
