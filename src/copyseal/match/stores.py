"""Where the matcher reads what it keeps about works: fingerprints (:class:`FingerprintStore`)
and colours (:class:`ColourSource`), and a dictionary-backed store of both for tests and
benchmarks (:class:`InMemoryStore`). The workspace's stores read its database and its kept
originals (:mod:`copyseal.registry`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np
import numpy.typing as npt

from copyseal.match.fingerprint import WorkFingerprint

__all__ = ["ColourSource", "FingerprintStore", "InMemoryStore"]


class FingerprintStore(Protocol):
    """Where the matcher reads a candidate's fingerprint (the workspace's store reads the
    ``work_fingerprints`` table on demand)."""

    def get(self, work_id: str) -> WorkFingerprint:
        """The fingerprint of ``work_id``; raises ``KeyError`` if there is none."""
        ...


class ColourSource(Protocol):
    """Where the matcher reads a work's colours (:func:`work_colour`) for the colour check
    of matches resting on outlines (``MatchConfig.weak_colour``); the workspace's source
    reads the work's kept original. Fingerprints hold no colour."""

    def colour(self, work_id: str) -> npt.NDArray[np.float32] | None:
        """The work's :func:`work_colour`, or None if it cannot be had."""
        ...


class InMemoryStore:
    """A dictionary-backed :class:`FingerprintStore` and :class:`ColourSource` for tests
    and benchmarks."""

    def __init__(self) -> None:
        self._fps: dict[str, WorkFingerprint] = {}
        self._colours: dict[str, npt.NDArray[np.float32]] = {}

    def put(
        self, work_id: str, fp: WorkFingerprint, *, colour: npt.NDArray[np.float32] | None = None
    ) -> None:
        self._fps[work_id] = fp
        if colour is not None:
            self._colours[work_id] = colour
        else:
            self._colours.pop(work_id, None)

    def delete(self, work_id: str) -> None:
        self._fps.pop(work_id, None)
        self._colours.pop(work_id, None)

    def colour(self, work_id: str) -> npt.NDArray[np.float32] | None:
        return self._colours.get(work_id)

    def get(self, work_id: str) -> WorkFingerprint:
        return self._fps[work_id]

    def __len__(self) -> int:
        return len(self._fps)

    def __iter__(self) -> Iterator[str]:
        return iter(self._fps)
