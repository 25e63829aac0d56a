"""The match package's public API is small on purpose; pin it."""

from __future__ import annotations

import copyseal.match


def test_exports() -> None:
    assert copyseal.match.__all__ == [
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
    for name in copyseal.match.__all__:
        assert getattr(copyseal.match, name).__doc__, f"{name} needs a docstring"
