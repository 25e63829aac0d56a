"""Image matching: decode untrusted images, fingerprint works, find edited copies.

The package knows nothing of the web or the database: it takes bytes or a decoded image
and returns matches. See :mod:`copyseal.match.engine` for the pipeline.
"""

from copyseal.match.config import MatchConfig
from copyseal.match.decode import DecodedImage, decode
from copyseal.match.engine import FingerprintStore, InMemoryStore, Matcher, fingerprint
from copyseal.match.fingerprint import WorkFingerprint
from copyseal.match.hashes import ImageHash
from copyseal.match.index import MatchIndex
from copyseal.match.overlay import render_overlay
from copyseal.match.result import Match, Transform

__all__ = [
    "DecodedImage",
    "FingerprintStore",
    "ImageHash",
    "InMemoryStore",
    "Match",
    "MatchConfig",
    "MatchIndex",
    "Matcher",
    "Transform",
    "WorkFingerprint",
    "decode",
    "fingerprint",
    "render_overlay",
]
