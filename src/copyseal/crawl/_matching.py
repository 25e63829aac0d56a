"""What the crawler needs from a matcher: the workspace's matcher seam.

The pipelines depend only on :class:`ImageMatcher` (``match(data) -> [match]`` where each
match has ``work_id``, ``score`` and ``to_json()``): the seam's
:class:`~copyseal.registry.WorkMatcher`, so the crawl uses the same matcher as sealing and
``copyseal match``. The Scrapy setting ``COPYSEAL_MATCHER`` names the factory; its default
is :func:`copyseal.registry.build_matcher`, which builds the matcher ``match.matcher``
chooses. Tests may name another factory ``(engine, settings) -> ImageMatcher``.
"""

from __future__ import annotations

from copyseal.registry.matchers import MatchLike, WorkMatcher

__all__ = ["ImageMatcher", "MatchLike"]

#: The crawl's name for the matcher seam.
ImageMatcher = WorkMatcher
