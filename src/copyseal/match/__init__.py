"""Image matching: decode untrusted images, fingerprint works, find edited copies.

The package knows nothing of the web or the database: it takes bytes or a decoded image
and returns matches. See :mod:`copyseal.match.engine` for the pipeline. The retrieval
index is a seam (:class:`RetrievalIndex`, implementations in :data:`INDEXES`, chosen by
``match.index``); FAISS (:class:`FaissIndex`) is the one shipped.
"""

from copyseal.match._work import fingerprint, work_colour
from copyseal.match.config import MatchConfig
from copyseal.match.decode import DecodedImage, decode
from copyseal.match.engine import Matcher
from copyseal.match.faiss_index import FaissIndex
from copyseal.match.fingerprint import WorkFingerprint
from copyseal.match.hashes import ImageHash
from copyseal.match.indexes import INDEXES, index_class
from copyseal.match.overlay import render_overlay
from copyseal.match.result import Match, Transform
from copyseal.match.retrieval import HashHit, RetrievalIndex
from copyseal.match.stores import ColourSource, FingerprintStore, InMemoryStore

__all__ = [
    "INDEXES",
    "ColourSource",
    "DecodedImage",
    "FaissIndex",
    "FingerprintStore",
    "HashHit",
    "ImageHash",
    "InMemoryStore",
    "Match",
    "MatchConfig",
    "Matcher",
    "RetrievalIndex",
    "Transform",
    "WorkFingerprint",
    "decode",
    "fingerprint",
    "index_class",
    "render_overlay",
    "work_colour",
]
