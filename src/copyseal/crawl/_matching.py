"""What the crawler needs from a matcher, and the workspace's matcher built from the DB.

The crawler depends only on :class:`ImageMatcher` (``match(data) -> [match]`` where each
match has ``work_id``, ``score`` and ``to_json()``), so the pipelines can be tested with
any implementation. :func:`build_matcher` is the default factory (setting
``COPYSEAL_MATCHER``): the workspace's matcher from :mod:`copyseal.registry`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from copyseal.config import Settings

__all__ = ["ImageMatcher", "MatchLike", "build_matcher"]


class MatchLike(Protocol):
    """One work found in an image."""

    @property
    def work_id(self) -> str: ...

    @property
    def score(self) -> float: ...

    def to_json(self) -> dict[str, Any]: ...


class ImageMatcher(Protocol):
    """Finds registered works in image bytes; raises ``MatchError`` for unusable bytes."""

    def match(self, data: bytes) -> Sequence[MatchLike]: ...


def build_matcher(engine: Engine, settings: Settings) -> ImageMatcher:
    """The default factory: the workspace's matcher (see :mod:`copyseal.registry`)."""
    from copyseal.registry import build_matcher as build

    return build(engine, settings)
