"""The retrieval index seam: what the matching engine asks of an index of the works.

Retrieval answers "which registered works could this query show?" without looking at
the works themselves; verification (keypoints, RANSAC, the photometric check) then
decides. The engine (:class:`~copyseal.match.Matcher`) and the workspace's index cache
(:mod:`copyseal.registry`) know an index only through :class:`RetrievalIndex`, so a
backend is one class satisfying it plus one entry in
:data:`copyseal.match.indexes.INDEXES`, chosen by ``match.index`` in ``config.yaml``.
Every backend passes the shared conformance kit (``tests/unit/match/index_conformance.py``).

Two kinds of evidence are asked for:

* **window hashes** — every (query hash, work window hash) pair within a Hamming radius,
  exact (a missed pair loses a low-texture work, which has nothing else to be found by);
* **descriptor votes** — for each query descriptor, the works owning one of its ``k``
  nearest descriptors within ``max_distance`` (approximate search is allowed: votes only
  rank candidates, verification decides).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Self

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from copyseal.match.fingerprint import WorkFingerprint
    from copyseal.match.hashes import ImageHash

__all__ = ["HashHit", "RetrievalIndex", "VotePairs"]


@dataclass(frozen=True, kw_only=True, slots=True)
class HashHit:
    """A query hash within radius of a work's window hash.

    Attributes:
        work_id: The work.
        window: Index of the work's window (0 is the whole image).
        query: Index of the query hash in the list searched.
        distance: Hamming distance.
    """

    work_id: str
    window: int
    query: int
    distance: int


@dataclass(frozen=True, kw_only=True, slots=True)
class VotePairs:
    """The descriptor pairs behind one work's votes, each a query row and a row of the
    work's fingerprint descriptors (so its keypoint), with their Hamming distance; arrays
    of equal length, ordered by query row then neighbour rank.

    Attributes:
        query_rows: Rows of the query descriptors searched.
        work_rows: Rows of the work's descriptors (``WorkFingerprint.points`` rows).
        distances: Hamming distances of the pairs.
    """

    query_rows: npt.NDArray[np.intp]
    work_rows: npt.NDArray[np.intp]
    distances: npt.NDArray[np.int32]

    def voters(self) -> list[int]:
        """The distinct query rows, ascending (each votes once for the work)."""
        return sorted(set(self.query_rows.tolist()))


class RetrievalIndex(Protocol):
    """Window hashes and retrieval descriptors of the registered works.

    A backend's class builds an empty index when called with no arguments (its own
    defaults) and reads a saved one with :meth:`load`. Work ids are opaque strings.
    Every method raises
    :class:`~copyseal.errors.MatchError` for input the index cannot hold (hashes of
    another width) and for an unreadable or altered saved file.
    """

    def __len__(self) -> int:
        """Number of works indexed."""
        ...

    def __contains__(self, work_id: object) -> bool:
        """Whether ``work_id`` is indexed."""
        ...

    def work_ids(self) -> list[str]:
        """Indexed work ids, in the order they were added."""
        ...

    def add(self, work_id: str, fp: WorkFingerprint, *, n_descriptors: int) -> None:
        """Index a work's window hashes and its first ``n_descriptors`` descriptors
        (re-adding a work replaces it)."""
        ...

    def add_many(self, works: Iterable[tuple[str, WorkFingerprint]], *, n_descriptors: int) -> None:
        """Index many works at once, as :meth:`add` each; an index may defer building
        its search structures to the end (a catalogue loaded at start)."""
        ...

    def remove(self, work_id: str) -> None:
        """Forget a work (no error if it is not indexed)."""
        ...

    def search_hashes(
        self, hashes: Sequence[ImageHash], radius: int | Sequence[int]
    ) -> list[HashHit]:
        """Every (query hash, work window) pair within Hamming ``radius`` (inclusive),
        exact; ``radius`` is one for all query hashes or one per query hash.

        Hits come ordered by query index, and in the same order for the same index
        content and query (the engine's tie-breaking depends on it).
        """
        ...

    def voters(
        self, descriptors: npt.NDArray[np.uint8], *, k: int, max_distance: int
    ) -> dict[str, list[int]]:
        """For each work, the rows of ``descriptors`` having a descriptor of that work
        within ``max_distance`` among their ``k`` nearest (each row once per work)."""
        ...

    def vote_pairs(
        self, descriptors: npt.NDArray[np.uint8], *, k: int, max_distance: int
    ) -> dict[str, VotePairs]:
        """Like :meth:`voters`, with the work descriptor each vote came from (every
        neighbour of a row within ``max_distance``, so a row may pair with several of a
        work's descriptors); ``vote_pairs(...)[w].voters() == voters(...)[w]``."""
        ...

    def prepare_search(self) -> None:
        """Build whatever the first search would build, now (called once at start)."""
        ...

    def save(self, path: Path) -> None:
        """Write the index to one file, atomically (readers see the old or the new)."""
        ...

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read a file written by :meth:`save`, refusing one that was altered."""
        ...
