"""The workspace's retrieval index: built from ``work_fingerprints``, cached on disk.

Start-up does not grow with the catalogue beyond reading the index: the built index (of
the kind ``match.index`` names, :data:`copyseal.match.INDEXES`) is cached in
the evidence store's ``index`` area under a key that digests the indexed ``(work_id, fingerprint
digest)`` set, the fingerprint scheme, the index kind and the
:class:`~copyseal.match.MatchConfig`; a start with the same works loads it (the index
checks its own file), and a start after registrations or removals updates the newest
cached index of the same kind and config (removals, additions) instead of rebuilding it.
Each cached index has a manifest beside it (``match-<key>.json``: the works it holds).
Both files are published atomically (:mod:`copyseal.files`), so a reader never sees half.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from copyseal.config import Settings
from copyseal.db.models import Work, WorkFingerprint
from copyseal.errors import MatchError
from copyseal.files import publish_bytes
from copyseal.match import MatchConfig, RetrievalIndex, index_class
from copyseal.match import WorkFingerprint as Fingerprint
from copyseal.match.fingerprint import FORMAT_VERSION
from copyseal.storage import Area, open_store

__all__ = ["SCHEME", "index_dir", "workspace_index"]

log = logging.getLogger(__name__)

#: The scheme of fingerprints the matcher reads (rows of another scheme are skipped).
SCHEME = f"copyseal-fp/{FORMAT_VERSION}"
#: Bump when what the cached index holds for the same works and config changes.
#: 2: FaissIndex's file version 3, whose inverted file the match processes map and share
#: (a version-1 cache would load into each process's memory: it is rebuilt once instead).
#: 3: FaissIndex visits 3 inverted lists per descriptor instead of 4 (saved in the file).
_CACHE_VERSION = 3
_CACHE_PREFIX = "match-"
_CACHE_SUFFIX = ".idx"


def index_dir(settings: Settings) -> Path:
    """Where the workspace caches its match index."""
    return open_store(settings.workspace.evidence_dir).folder(Area.INDEX)


def _config_key(config: MatchConfig, kind: str) -> str:
    """Digest of everything but the works that decides what the index holds."""
    meta = {
        "cache": _CACHE_VERSION,
        "scheme": SCHEME,
        "index": kind,
        "config": dict(sorted(dataclasses.asdict(config).items())),
    }
    return hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode()).hexdigest()


def _cache_key(config_key: str, rows: Mapping[str, str]) -> str:
    """Digest of what the index is built from: the (work_id, digest) set and the config."""
    h = hashlib.sha256(config_key.encode())
    for work_id, digest in sorted(rows.items()):
        h.update(f"\n{work_id}\t{digest}".encode())
    return h.hexdigest()


def _paths(folder: Path, key: str) -> tuple[Path, Path]:
    """The index file and its manifest (the works it was built from) for ``key``."""
    stem = folder / f"{_CACHE_PREFIX}{key}"
    return stem.with_suffix(_CACHE_SUFFIX), stem.with_suffix(".json")


def _load_cached(
    kind: type[RetrievalIndex], path: Path, expected: Mapping[str, str]
) -> RetrievalIndex | None:
    if not path.exists():
        return None
    try:
        index = kind.load(path)
    except MatchError as e:
        log.warning("match index cache %s is unusable (%s); rebuilding it", path, e)
        return None
    if set(index.work_ids()) - set(expected):
        log.warning("match index cache %s holds other works; rebuilding it", path)
        return None
    return index


def _load_base(
    kind: type[RetrievalIndex], folder: Path, config_key: str
) -> tuple[RetrievalIndex, dict[str, str]] | None:
    """The newest cached index built with this kind and config, and the works it holds."""

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
            ok = meta["config"] == config_key and manifest.name == f"{_CACHE_PREFIX}{key}.json"
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not ok or _cache_key(config_key, works) != key:
            continue  # another kind or config, or a manifest that does not describe its key
        index = _load_cached(kind, _paths(folder, key)[0], works)
        if index is not None:
            return index, works
    return None


def _save_cache(
    index: RetrievalIndex, folder: Path, key: str, works: Mapping[str, str], config_key: str
) -> None:
    """Publish ``match-<key>.json`` and ``match-<key>.idx`` and drop older ones. The
    manifest lets a later start update the index instead of rebuilding it."""
    target, manifest = _paths(folder, key)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"key": key, "config": config_key, "works": dict(works)}
        publish_bytes(manifest, json.dumps(meta).encode(), overwrite=True)
        index.save(target)
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
    index: RetrievalIndex,
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


def _build_index(
    kind: type[RetrievalIndex], engine: Engine, config: MatchConfig, expected: Mapping[str, str]
) -> RetrievalIndex:
    """Index every expected fingerprint, streaming the blobs (:meth:`add_many`: an index
    builds its search structures once, at the end)."""
    index = kind()
    works = ((w, fp) for w, fp in _fetch(engine, expected) if fp is not None)
    index.add_many(works, n_descriptors=config.retrieval_features)
    return index


def workspace_index(
    engine: Engine,
    settings: Settings,
    config: MatchConfig,
    expected: Mapping[str, str],
    *,
    use_cache: bool = True,
) -> RetrievalIndex:
    """The retrieval index of the ``expected`` works (work_id -> fingerprint digest),
    ready to search.

    It comes from the workspace's cache when that was built from the same fingerprints,
    kind and config; when works were registered or removed since, the newest cached index
    of the same kind and config is updated rather than rebuilt. ``use_cache=False`` always
    builds from the database and neither reads nor writes the cache.

    Raises:
        MatchError: ``match.index`` names no known index.
    """
    name = settings.match.index
    kind = index_class(name)
    config_key = _config_key(config, name)
    key = _cache_key(config_key, expected)
    folder = index_dir(settings)
    path = _paths(folder, key)[0]
    index = _load_cached(kind, path, expected) if use_cache else None
    if index is not None:
        log.debug("match index loaded from %s", path)
    else:
        base = _load_base(kind, folder, config_key) if use_cache and folder.is_dir() else None
        if base is not None:
            index, base_works = base
            _update_index(engine, config, index, base_works, expected)
            log.info("match index updated from the cache (%d works)", len(index))
        else:
            index = _build_index(kind, engine, config, expected)
        if use_cache:
            _save_cache(index, folder, key, expected, config_key)
    index.prepare_search()
    return index
