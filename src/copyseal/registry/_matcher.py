"""The workspace's matcher: registered works, found by SHA-256 and by fingerprint.

One function builds it for every caller — ``copyseal match``, the crawler's pipelines and
evidence sealing — from the ``works`` and ``work_fingerprints`` tables.

Start-up does not grow with the catalogue beyond reading the retrieval index:

* the built :class:`~copyseal.match.MatchIndex` is cached in ``<evidence_dir>/index/``
  under a key that digests the indexed ``(work_id, fingerprint digest)`` set, the
  fingerprint scheme and the :class:`~copyseal.match.MatchConfig`; a start with the same
  works loads it (a checksummed file), any registration or removal changes the key and
  the index is rebuilt (and its inverted file trained once) and cached again;
* fingerprints are read from ``work_fingerprints`` one at a time when a candidate is
  verified (:class:`DbFingerprintStore`, with a small LRU), not all at start;
* the exact (SHA-256) lookup asks the ``works`` table per query (a unique index).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from copyseal.config import Settings
from copyseal.db.models import Work, WorkFingerprint
from copyseal.errors import ConfigError, MatchError
from copyseal.match import (
    DecodedImage,
    Match,
    MatchConfig,
    Matcher,
    MatchIndex,
    decode,
)
from copyseal.match import WorkFingerprint as Fingerprint
from copyseal.match.fingerprint import FORMAT_VERSION

__all__ = [
    "DbFingerprintStore",
    "ExactLookup",
    "ExactMatch",
    "WorkspaceMatcher",
    "build_matcher",
    "index_dir",
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

    def decode(self, data: bytes, *, name: str = "") -> DecodedImage:
        return decode(
            data, max_pixels=self.config.max_pixels, max_frames=self.config.max_frames, name=name
        )

    def match(self, data: bytes, *, name: str = "") -> Sequence[Match | ExactMatch]:
        image = self.decode(data, name=name)
        work = self.exact.get(image.sha256)
        if work is not None:
            return [ExactMatch(work_id=work, width=image.width, height=image.height)]
        if len(self.matcher.index) == 0:
            # Nothing fingerprinted to find: skip the query's features (~30 ms an image).
            return []
        return self.matcher.match(image)

    def match_image(self, image: DecodedImage) -> list[Match]:
        """The perceptual matches of a decoded image (with regions, for overlays)."""
        return self.matcher.match(image)


#: The scheme of fingerprints this matcher reads (rows of another scheme are skipped).
SCHEME = f"copyseal-fp/{FORMAT_VERSION}"
#: Bump when what the cached index holds for the same works and config changes.
_CACHE_VERSION = 1
_CACHE_PREFIX = "match-"
_CACHE_SUFFIX = ".idx"


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
    with; the last ``cache_size`` fingerprints parsed are kept.
    Thread-safe (the crawler matches from several threads).
    """

    def __init__(self, engine: Engine, work_ids: Mapping[str, str], *, cache_size: int = 64):
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


def index_dir(settings: Settings) -> Path:
    """Where the workspace caches its match index."""
    return settings.workspace.evidence_dir / "index"


def _config_key(config: MatchConfig) -> str:
    """Digest of everything but the works that decides what the index holds."""
    meta = {
        "cache": _CACHE_VERSION,
        "scheme": SCHEME,
        "config": dict(sorted(dataclasses.asdict(config).items())),
    }
    return hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode()).hexdigest()


def _cache_key(config: MatchConfig, rows: Mapping[str, str]) -> str:
    """Digest of what the index is built from: the (work_id, digest) set and the config."""
    h = hashlib.sha256(_config_key(config).encode())
    for work_id, digest in sorted(rows.items()):
        h.update(f"\n{work_id}\t{digest}".encode())
    return h.hexdigest()


def _paths(folder: Path, key: str) -> tuple[Path, Path]:
    """The index file and its manifest (the works it was built from) for ``key``."""
    stem = folder / f"{_CACHE_PREFIX}{key}"
    return stem.with_suffix(_CACHE_SUFFIX), stem.with_suffix(".json")


def _load_cached(path: Path, expected: Mapping[str, str]) -> MatchIndex | None:
    if not path.exists():
        return None
    try:
        index = MatchIndex.load(path)
    except MatchError as e:
        log.warning("match index cache %s is unusable (%s); rebuilding it", path, e)
        return None
    if set(index.work_ids()) - set(expected):
        log.warning("match index cache %s holds other works; rebuilding it", path)
        return None
    return index


def _load_base(folder: Path, config: MatchConfig) -> tuple[MatchIndex, dict[str, str]] | None:
    """The newest cached index built with this config, and the works it was built from."""
    want = _config_key(config)

    def mtime(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:  # removed meanwhile by another process's save
            return 0.0

    manifests = sorted(folder.glob(f"{_CACHE_PREFIX}*.json"), key=mtime, reverse=True)
    for manifest in manifests:
        try:
            meta = json.loads(manifest.read_text(encoding="utf-8"))
            works = {str(k): str(v) for k, v in dict(meta["works"]).items()}
            key = str(meta["key"])
            ok = meta["config"] == want and manifest.name == f"{_CACHE_PREFIX}{key}.json"
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not ok or _cache_key(config, works) != key:
            continue  # another config, or a manifest that does not describe its key
        index = _load_cached(_paths(folder, key)[0], works)
        if index is not None:
            return index, works
    return None


def _save_cache(
    index: MatchIndex, folder: Path, key: str, works: Mapping[str, str], config_key: str
) -> None:
    """Write ``match-<key>.json`` and ``match-<key>.idx`` (temp file + rename each) and drop
    older ones. The manifest lets a later start update the index instead of rebuilding."""
    target, manifest = _paths(folder, key)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path, write in (
            (
                manifest,
                lambda tmp: Path(tmp).write_text(
                    json.dumps({"key": key, "config": config_key, "works": dict(works)}),
                    encoding="utf-8",
                ),
            ),
            (target, index.save),
        ):
            fd, tmp = tempfile.mkstemp(prefix=".match-", suffix=".tmp", dir=folder)
            os.close(fd)
            try:
                write(tmp)
                os.replace(tmp, path)
            finally:
                Path(tmp).unlink(missing_ok=True)
    except OSError as e:
        log.warning("cannot cache the match index in %s (%s)", folder, e)
        return
    for old in folder.glob(f"{_CACHE_PREFIX}*"):
        if old not in (target, manifest):
            old.unlink(missing_ok=True)


def _fetch(
    engine: Engine, expected: Mapping[str, str], only: Sequence[str] | None = None
) -> Iterator[tuple[str, Fingerprint | None]]:
    """Parsed fingerprints of the expected works (all, or ``only`` those), streamed;
    ``None`` for one that cannot be parsed (logged)."""
    base = (
        select(WorkFingerprint.work_id, WorkFingerprint.digest, WorkFingerprint.data)
        .join(Work, Work.work_id == WorkFingerprint.work_id)
        .where(Work.removed_at.is_(None), WorkFingerprint.scheme == SCHEME)
    )
    batches = (
        [base.order_by(WorkFingerprint.work_id)]
        if only is None
        else [
            base.where(WorkFingerprint.work_id.in_(list(only[i : i + 500])))
            for i in range(0, len(only), 500)
        ]
    )
    with engine.connect() as conn:
        for query in batches:
            for work_id, digest, data in conn.execution_options(yield_per=256).execute(query):
                if expected.get(work_id) != digest:
                    continue  # registered or changed since the key was computed
                try:
                    yield work_id, Fingerprint.from_bytes(bytes(data))
                except MatchError as e:
                    log.warning("work %s: unusable fingerprint (%s); exact copies only", work_id, e)
                    yield work_id, None


def _update_index(
    engine: Engine,
    config: MatchConfig,
    index: MatchIndex,
    base: Mapping[str, str],
    expected: Mapping[str, str],
) -> None:
    """Bring a cached index from the works ``base`` to ``expected``."""
    for work_id, digest in base.items():
        if expected.get(work_id) != digest:
            index.remove(work_id)
    added = sorted(w for w, d in expected.items() if base.get(w) != d)
    for work_id, fp in _fetch(engine, expected, added):
        if fp is not None:
            index.add(work_id, fp, n_descriptors=config.retrieval_features)


def _build_index(engine: Engine, config: MatchConfig, expected: Mapping[str, str]) -> MatchIndex:
    """Index every expected fingerprint, streaming the blobs; the inverted file (if the
    descriptors are many enough for one) is trained once, at the end."""
    defaults = MatchIndex()
    index = MatchIndex(ivf_threshold=0, nprobe=defaults.nprobe)
    for work_id, fp in _fetch(engine, expected):
        if fp is not None:
            index.add(work_id, fp, n_descriptors=config.retrieval_features)
    index.ivf_threshold = defaults.ivf_threshold
    if index.ivf_threshold and index.n_descriptors >= index.ivf_threshold:
        index.optimize()
    return index


def build_matcher(
    engine: Engine, settings: Settings, *, use_cache: bool = True
) -> WorkspaceMatcher:
    """The workspace's matcher over every work that is not removed.

    The retrieval index comes from the workspace's cache when it was built from the same
    fingerprints and config; when works were registered or removed since, the newest
    cached index of the same config is updated (removals, additions) rather than rebuilt.
    ``use_cache=False`` always rebuilds and neither reads nor writes the cache.
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
    key = _cache_key(config, current)
    folder = index_dir(settings)
    path = _paths(folder, key)[0]
    index = _load_cached(path, current) if use_cache else None
    if index is not None:
        log.debug("match index loaded from %s", path)
    else:
        base = _load_base(folder, config) if use_cache and folder.is_dir() else None
        if base is not None:
            index, base_works = base
            _update_index(engine, config, index, base_works, current)
            log.info("match index updated from the cache (%d works)", len(index))
        else:
            index = _build_index(engine, config, current)
        if use_cache:
            _save_cache(index, folder, key, current, _config_key(config))
    index.prepare_search()
    indexed = set(index.work_ids())
    current = {w: d for w, d in current.items() if w in indexed}
    missing = int(n_works) - len(current)
    if missing:
        log.warning(
            "%d work(s) have no usable fingerprint: only exact copies of them are found", missing
        )
    store = DbFingerprintStore(engine, current)
    matcher = Matcher(store=store, index=index, config=config)
    return WorkspaceMatcher(exact=ExactLookup(engine), matcher=matcher, config=config)
