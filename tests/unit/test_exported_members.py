"""The public API is small on purpose; changing it is a decision, so pin it (httpx habit)."""

from __future__ import annotations

import copyseal
import copyseal.errors


def test_top_level_exports() -> None:
    assert copyseal.__all__ == ["CopysealError", "__version__"]


def test_every_stage_error_derives_from_the_root() -> None:
    for name in copyseal.errors.__all__:
        cls = getattr(copyseal.errors, name)
        assert issubclass(cls, copyseal.errors.CopysealError)
        assert cls.__doc__, f"{name} needs a docstring"


def test_verification_and_config_errors_have_their_exit_codes() -> None:
    assert copyseal.errors.VerificationError.exit_code == 3
    assert copyseal.errors.ConfigError.exit_code == 2
    assert copyseal.errors.CopysealError.exit_code == 1
