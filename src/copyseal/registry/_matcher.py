"""The ``workspace`` matcher: registered works, found by SHA-256 and by fingerprint.

The matcher ``match.matcher: workspace`` chooses (:data:`copyseal.registry.MATCHERS`),
built from the ``works`` and ``work_fingerprints`` tables. Start-up does not grow with
the catalogue beyond reading the retrieval index:

* the index is the workspace's cached one (:mod:`copyseal.registry._index_cache`);
* fingerprints are read from ``work_fingerprints`` one at a time when a candidate is
  verified (:class:`DbFingerprintStore`, with a small LRU), not all at start;
* the exact (SHA-256) lookup asks the ``works`` table per query (a unique index).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from copyseal.config import Settings
from copyseal.db.models import Work, WorkFingerprint
from copyseal.errors import ConfigError, MatchError
from copyseal.match import DecodedImage, Match, MatchConfig, Matcher, Transform, decode
from copyseal.match import WorkFingerprint as Fingerprint
from copyseal.registry._colours import OriginalColours
from copyseal.registry._index_cache import SCHEME, workspace_index
from copyseal.storage import open_store

__all__ = [
    "DbFingerprintStore",
    "ExactLookup",
    "ExactMatch",
    "WorkspaceMatcher",
    "build_workspace_matcher",
    "match_config",
]

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

    def as_match(self) -> Match:
        """The same finding as a :class:`~copyseal.match.Match` (identity transform, the
        whole image as region), for what takes a perceptual match: overlays, re-visits."""
        w, h = float(self.width), float(self.height)
        return Match(
            work_id=self.work_id,
            score=self.score,
            method="exact-sha256",
            hash_distance=0,
            inliers=0,
            transform=Transform.from_matrix(np.eye(3)),
            photometric=1.0,
            displaced=0.0,
            region=((0.0, 0.0), (w, 0.0), (w, h), (0.0, h)),
        )

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

    def __init__(self, *, exact: Mapping[str, str], matcher: Matcher, config: MatchConfig) -> None:
        self.exact = exact
        self.matcher = matcher
        self.config = config

    def __len__(self) -> int:
        """Works that can be found by fingerprint (0: only exact copies are looked up)."""
        return len(self.matcher.index)

    def decode(self, data: bytes, *, name: str = "") -> DecodedImage:
        """Decode ``data`` under the matcher's limits (pixels, frames)."""
        return decode(
            data, max_pixels=self.config.max_pixels, max_frames=self.config.max_frames, name=name
        )

    def match(self, data: bytes, *, name: str = "") -> Sequence[Match | ExactMatch]:
        """The works ``data`` shows: its exact original, else the perceptual matches.

        Only matches leave here (regions in the original's pixels), so a large JPEG is
        decoded reduced, no smaller than the matcher's ``decode_side`` (``decode``'s
        ``reduce_to``): the features are taken at ``query_side``, smaller still.
        """
        image = decode(
            data,
            max_pixels=self.config.max_pixels,
            max_frames=self.config.max_frames,
            name=name,
            reduce_to=self.config.decode_side or None,
        )
        work = self.exact.get(image.sha256)
        if work is not None:
            return [ExactMatch(work_id=work, width=image.width, height=image.height)]
        if len(self.matcher.index) == 0:
            # Nothing fingerprinted to find: skip the query's features (~30 ms an image).
            return []
        return self.matcher.match(image)

    def match_image(self, image: DecodedImage) -> list[Match]:
        """The matches of a decoded image (with regions, for overlays), best first.

        An image whose bytes are a registered original is that work's match even when
        the work has no usable fingerprint (``method`` ``exact-sha256``, the whole image),
        as :meth:`match` says: a re-visit must not call such a copy removed.
        """
        found = self.matcher.match(image) if len(self.matcher.index) else []
        work = self.exact.get(image.sha256)
        if work is None or any(m.work_id == work for m in found):
            return found
        exact = ExactMatch(work_id=work, width=image.width, height=image.height)
        return [exact.as_match(), *found]


class ExactLookup(Mapping[str, str]):
    """SHA-256 of a work's original -> ``work_id``, for works not removed, asked of the
    ``works`` table (its ``sha256`` column is unique, so indexed) on each lookup."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __getitem__(self, sha256: str) -> str:
        with self._engine.connect() as conn:
            work_id = conn.execute(
                select(Work.work_id).where(Work.sha256 == sha256, Work.removed_at.is_(None))
            ).scalar_one_or_none()
        if work_id is None:
            raise KeyError(sha256)
        return str(work_id)

    def __iter__(self) -> Iterator[str]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(Work.sha256).where(Work.removed_at.is_(None))).all()
        return iter([str(r[0]) for r in rows])

    def __len__(self) -> int:
        with self._engine.connect() as conn:
            n = conn.execute(
                select(func.count()).select_from(Work).where(Work.removed_at.is_(None))
            ).scalar_one()
        return int(n)


class DbFingerprintStore:
    """A :class:`~copyseal.match.FingerprintStore` reading ``work_fingerprints`` on demand.

    Only the works indexed at start (``work_ids``: work_id -> fingerprint digest) are
    served, and only with that digest, so the store agrees with the index it was built
    with; the last ``cache_size`` fingerprints parsed are kept (~40 kB each: a query
    verifies up to ~18 candidates, and the vote pre-check reads every voted one's points).
    Thread-safe (the crawler matches from several threads).
    """

    def __init__(self, engine: Engine, work_ids: Mapping[str, str], *, cache_size: int = 256):
        self._engine = engine
        self._digests = work_ids  # work_id -> fingerprint digest indexed
        self._cache: OrderedDict[str, Fingerprint] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()

    def get(self, work_id: str) -> Fingerprint:
        digest = self._digests.get(work_id)
        if digest is None:
            raise KeyError(work_id)
        with self._lock:
            fp = self._cache.get(work_id)
            if fp is not None:
                self._cache.move_to_end(work_id)
                return fp
        with self._engine.connect() as conn:
            data = conn.execute(
                select(WorkFingerprint.data).where(
                    WorkFingerprint.work_id == work_id, WorkFingerprint.digest == digest
                )
            ).scalar_one_or_none()
        if data is None:
            raise KeyError(work_id)  # changed or removed since start
        try:
            fp = Fingerprint.from_bytes(bytes(data))
        except MatchError as e:
            log.warning("work %s: unusable fingerprint (%s)", work_id, e)
            raise KeyError(work_id) from e
        with self._lock:
            self._cache[work_id] = fp
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return fp

    def __len__(self) -> int:
        return len(self._digests)

    def __contains__(self, work_id: object) -> bool:
        return work_id in self._digests


def build_workspace_matcher(
    engine: Engine, settings: Settings, *, use_cache: bool = True
) -> WorkspaceMatcher:
    """The workspace's matcher over every work that is not removed.

    The retrieval index comes from the workspace's cache when it was built from the same
    fingerprints, index kind and config; when works were registered or removed since, the
    newest cached index of the same kind and config is updated (removals, additions)
    rather than rebuilt. ``use_cache=False`` always rebuilds and neither reads nor writes
    the cache.

    Raises:
        ConfigError: ``match.engine`` holds unusable thresholds.
    """
    config = match_config(settings)
    with engine.connect() as conn:
        n_works = conn.execute(
            select(func.count()).select_from(Work).where(Work.removed_at.is_(None))
        ).scalar_one()
        rows = conn.execute(
            select(WorkFingerprint.work_id, WorkFingerprint.digest, WorkFingerprint.scheme)
            .join(Work, Work.work_id == WorkFingerprint.work_id)
            .where(Work.removed_at.is_(None))
        ).all()
    other = sum(scheme != SCHEME for _, _, scheme in rows)
    if other:
        log.warning(
            "%d work(s) have fingerprints of another scheme than %s: only exact copies of "
            "them are found until they are registered again",
            other,
            SCHEME,
        )
    current = {str(w): str(d) for w, d, scheme in rows if scheme == SCHEME}
    index = workspace_index(engine, settings, config, current, use_cache=use_cache)
    indexed = set(index.work_ids())
    current = {w: d for w, d in current.items() if w in indexed}
    missing = int(n_works) - len(current)
    if missing:
        log.warning(
            "%d work(s) have no usable fingerprint: only exact copies of them are found", missing
        )
    store = DbFingerprintStore(engine, current)
    colours = OriginalColours(
        engine=engine,
        store=open_store(settings.workspace.evidence_dir),
        fingerprints=store,
        config=config,
    )
    matcher = Matcher(store=store, index=index, config=config, colours=colours)
    return WorkspaceMatcher(exact=ExactLookup(engine), matcher=matcher, config=config)
