"""The retrieval index implementations, by the name ``match.index`` chooses.

Scrapy's ``STORE_SCHEMES`` is the model: a table from a name in the configuration to the
class that implements the seam (:class:`~copyseal.match.retrieval.RetrievalIndex`). To
add a backend, write the class, add it here, and add its name to ``MatchSettings.index``
in :mod:`copyseal.config` (a test checks that the two name the same backends); the
conformance kit in ``tests/unit/match/index_conformance.py`` then runs against it.
"""

from __future__ import annotations

from collections.abc import Mapping

from copyseal.errors import MatchError
from copyseal.match.faiss_index import FaissIndex
from copyseal.match.retrieval import RetrievalIndex

__all__ = ["INDEXES", "index_class"]

#: Name -> class of every retrieval index backend.
INDEXES: Mapping[str, type[RetrievalIndex]] = {"faiss": FaissIndex}


def index_class(name: str) -> type[RetrievalIndex]:
    """The retrieval index class called ``name``.

    Raises:
        MatchError: No backend has that name (the message lists the known ones).
    """
    try:
        return INDEXES[name]
    except KeyError:
        known = ", ".join(sorted(INDEXES))
        raise MatchError(f"unknown retrieval index {name!r} (known: {known})") from None
