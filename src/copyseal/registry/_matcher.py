"""The workspace's matcher: registered works, found by SHA-256 and by fingerprint.

One function builds it for every caller — ``copyseal match``, the crawler's pipelines and
evidence sealing — from the ``works`` and ``work_fingerprints`` tables.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from copyseal.config import Settings
from copyseal.db.models import Work, WorkFingerprint
from copyseal.errors import ConfigError, MatchError
from copyseal.match import (
    DecodedImage,
    InMemoryStore,
    Match,
    MatchConfig,
    Matcher,
    MatchIndex,
    decode,
)
from copyseal.match import WorkFingerprint as Fingerprint

__all__ = ["ExactMatch", "WorkspaceMatcher", "build_matcher", "match_config"]

log = logging.getLogger(__name__)


def match_config(settings: Settings) -> MatchConfig:
    """The matcher's thresholds: defaults, ``match.engine`` overrides, the decoding limit."""
    try:
        return MatchConfig.from_mapping(
            {**settings.match.engine, "max_pixels": settings.match.max_pixels}
        )
    except MatchError as e:
        raise ConfigError(f"{settings.source or 'configuration'}: match.engine: {e}") from e


@dataclass(frozen=True, kw_only=True)
class ExactMatch:
    """The image's bytes are exactly a registered work's original: the whole image."""

    work_id: str
    width: int
    height: int
    score: float = 1.0

    def to_json(self) -> dict[str, Any]:
        w, h = self.width, self.height
        return {
            "work_id": self.work_id,
            "score": self.score,
            "method": "exact-sha256",
            "hash_distance": 0,
            "inliers": None,
            "transform": {
                "scale": 1.0,
                "rotation_deg": 0.0,
                "mirrored": False,
                "matrix": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            },
            "region": [[0.0, 0.0], [float(w), 0.0], [float(w), float(h)], [0.0, float(h)]],
            "frame": 0,
        }


class WorkspaceMatcher:
    """Exact SHA-256 lookup first, then the perceptual matcher over the fingerprints.

    Bytes are always decoded under the matcher's limits, so a bad image is a
    :class:`~copyseal.errors.MatchError` either way.
    """

    def __init__(self, *, exact: dict[str, str], matcher: Matcher, config: MatchConfig) -> None:
        self.exact = exact
        self.matcher = matcher
        self.config = config

    def decode(self, data: bytes, *, name: str = "") -> DecodedImage:
        return decode(
            data, max_pixels=self.config.max_pixels, max_frames=self.config.max_frames, name=name
        )

    def match(self, data: bytes, *, name: str = "") -> Sequence[Match | ExactMatch]:
        image = self.decode(data, name=name)
        work = self.exact.get(image.sha256)
        if work is not None:
            return [ExactMatch(work_id=work, width=image.width, height=image.height)]
        return self.matcher.match(image)

    def match_image(self, image: DecodedImage) -> list[Match]:
        """The perceptual matches of a decoded image (with regions, for overlays)."""
        return self.matcher.match(image)


def build_matcher(engine: Engine, settings: Settings) -> WorkspaceMatcher:
    """The workspace's matcher over every work that is not removed."""
    config = match_config(settings)
    with engine.connect() as conn:
        works = conn.execute(
            select(Work.work_id, Work.sha256).where(Work.removed_at.is_(None))
        ).all()
        rows = conn.execute(
            select(WorkFingerprint.work_id, WorkFingerprint.data)
            .join(Work, Work.work_id == WorkFingerprint.work_id)
            .where(Work.removed_at.is_(None))
        ).all()
    store = InMemoryStore()
    matcher = Matcher(store=store, index=MatchIndex(), config=config)
    for work_id, data in rows:
        try:
            fp = Fingerprint.from_bytes(bytes(data))
        except MatchError as e:
            log.warning("work %s: unusable fingerprint (%s); exact copies only", work_id, e)
            continue
        store.put(work_id, fp)
        matcher.add(work_id, fp)
    missing = len(works) - len(store)
    if missing:
        log.warning("%d work(s) have no fingerprint: only exact copies of them are found", missing)
    return WorkspaceMatcher(exact={sha: wid for wid, sha in works}, matcher=matcher, config=config)
