"""Evidence stores: where a workspace keeps bundles, originals, exports and caches.

One config key chooses the store: ``workspace.evidence_dir``, a path or a URL whose
scheme is looked up in :data:`STORES` (the habit of Scrapy's ``FilesPipeline.STORE_SCHEMES``).
A workspace builds its store once (:attr:`copyseal.workspace.Workspace.store`); code asks
it for an :class:`Area`'s folder or publishes into it, and never joins paths under the
evidence folder by hand.

Adding a backend: a class implementing :class:`EvidenceStore`, one entry in
:data:`STORES`, and the conformance kit in ``tests/unit/storage/`` runs against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from copyseal.errors import EvidenceStoreError
from copyseal.storage.base import READ_ONLY, Area, EvidenceStore, scheme_of
from copyseal.storage.local import LocalEvidenceStore

__all__ = [
    "READ_ONLY",
    "STORES",
    "Area",
    "EvidenceStore",
    "LocalEvidenceStore",
    "local_folder",
    "open_store",
]

#: Evidence store classes by the URL scheme of ``workspace.evidence_dir`` (``""``: a path).
STORES: Mapping[str, type[EvidenceStore]] = MappingProxyType(
    {"": LocalEvidenceStore, "file": LocalEvidenceStore}
)


def open_store(location: str | Path) -> EvidenceStore:
    """The store at ``location``, built by the class :data:`STORES` lists for its scheme.

    Raises:
        EvidenceStoreError: no store serves the scheme, or the location is malformed.
    """
    scheme = scheme_of(location)
    store = STORES.get(scheme)
    if store is None:
        known = ", ".join(f"{s}:" for s in sorted(STORES) if s)
        raise EvidenceStoreError(
            f"{location}: no evidence store for the scheme {scheme!r} (a path, or {known})"
        )
    return store.from_location(location)


def local_folder(location: str) -> Path:
    """The local folder of the store at ``location``: what ``workspace.evidence_dir``
    holds once the settings are validated (a ``file:`` URL becomes its path).

    Raises:
        ValueError: as :func:`open_store` (for the settings' validation to report).
    """
    try:
        store = open_store(location)
    except EvidenceStoreError as e:
        raise ValueError(str(e)) from e
    if not isinstance(store, LocalEvidenceStore):  # pragma: no cover - no other kind yet
        raise ValueError(f"{location}: the evidence store must be a folder on this machine")
    return store.root
