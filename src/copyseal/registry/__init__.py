"""Registering a rights holder's works."""

from copyseal.registry._works import (
    RegistrationFailure,
    WorkRecord,
    iter_image_files,
    list_works,
    register_paths,
    remove_work,
    work_id_for,
)

__all__ = [
    "RegistrationFailure",
    "WorkRecord",
    "iter_image_files",
    "list_works",
    "register_paths",
    "remove_work",
    "work_id_for",
]
