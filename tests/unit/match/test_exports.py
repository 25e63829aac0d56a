"""The match package's public API is small on purpose; pin it."""

from __future__ import annotations

import copyseal.match


def test_exports() -> None:
    assert copyseal.match.__all__ == [
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
    for name in copyseal.match.__all__:
        assert getattr(copyseal.match, name).__doc__, f"{name} needs a docstring"
