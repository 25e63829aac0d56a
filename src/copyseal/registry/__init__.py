"""Registering a rights holder's works."""

from copyseal.registry._matcher import ExactMatch, WorkspaceMatcher, build_matcher, match_config
from copyseal.registry._works import (
    RegistrationFailure,
    WorkRecord,
    anchor_pending,
    iter_image_files,
    list_works,
    original_path,
    register_paths,
    remove_work,
    work_id_for,
)

__all__ = [
    "ExactMatch",
    "RegistrationFailure",
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
    "work_id_for",
]
