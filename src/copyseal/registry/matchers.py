"""The matcher seam: the one object that finds registered works in images.

The crawl's pipelines, evidence sealing and ``copyseal match`` all get their matcher from
:func:`build_matcher` and use it only through :class:`WorkMatcher`, so one choice —
``match.matcher`` in ``config.yaml`` — reaches all three. Scrapy's ``STORE_SCHEMES`` is
the model: :data:`MATCHERS` maps each name to a factory ``(engine, settings) ->
WorkMatcher``. To add a matcher, write its factory, add it to :data:`MATCHERS`, and add
its name to ``MatchSettings.matcher`` in :mod:`copyseal.config` (a test checks that the
two name the same matchers); the conformance kit in
``tests/unit/registry/matcher_conformance.py`` then runs against it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from copyseal.config import Settings
from copyseal.errors import ConfigError
from copyseal.match import DecodedImage, Match
from copyseal.registry._matcher import build_workspace_matcher

__all__ = ["MATCHERS", "MatchLike", "MatcherFactory", "WorkMatcher", "build_matcher"]


class MatchLike(Protocol):
    """One work found in an image: which, how sure, and its JSON report."""

    @property
    def work_id(self) -> str: ...

    @property
    def score(self) -> float: ...

    def to_json(self) -> dict[str, Any]:
        """The match as JSON (the ``copyseal match --json`` contract: ``work_id``,
        ``score``, ``method``, ``transform``, ``region``, ...)."""
        ...


class WorkMatcher(Protocol):
    """Finds registered works in image bytes.

    Bytes are decoded under the matcher's limits; bytes that are not a usable image raise
    :class:`~copyseal.errors.MatchError` (a :class:`~copyseal.errors.DecodeError`).
    Implementations are used from one thread at a time.
    """

    def decode(self, data: bytes, *, name: str = "") -> DecodedImage:
        """Decode ``data`` under the matcher's limits (``name`` labels errors)."""
        ...

    def match(self, data: bytes, *, name: str = "") -> Sequence[MatchLike]:
        """Every registered work ``data`` shows, best first (exact copies included)."""
        ...

    def match_image(self, image: DecodedImage) -> Sequence[Match]:
        """Every registered work a decoded image shows, best first, with the region and
        keypoint pairs an overlay draws (:func:`copyseal.match.render_overlay`); an exact
        copy of a work's original is among them (``method`` ``exact-sha256``) also when
        the work has no usable fingerprint."""
        ...


class MatcherFactory(Protocol):
    """Builds a matcher over the workspace's registered works."""

    def __call__(
        self, engine: Engine, settings: Settings, *, use_cache: bool = True
    ) -> WorkMatcher:
        """``use_cache=False``: build from the database alone, reading and writing no
        cache (tests, and a start that must not trust what is on disk)."""
        ...


#: Name (``match.matcher``) -> factory of every matcher.
MATCHERS: Mapping[str, MatcherFactory] = {"workspace": build_workspace_matcher}


def build_matcher(engine: Engine, settings: Settings, *, use_cache: bool = True) -> WorkMatcher:
    """The workspace's matcher, of the kind ``match.matcher`` names.

    The one factory for the crawl, sealing and ``copyseal match``.

    Raises:
        ConfigError: ``match.matcher`` names no known matcher, or the matcher's settings
            are unusable.
    """
    name = settings.match.matcher
    factory = MATCHERS.get(name)
    if factory is None:
        known = ", ".join(sorted(MATCHERS))
        raise ConfigError(
            f"{settings.source or 'configuration'}: match.matcher: unknown matcher {name!r} "
            f"(known: {known})"
        )
    return factory(engine, settings, use_cache=use_cache)
