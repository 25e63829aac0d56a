"""The base of every settings section, and the error that names a nested key."""

from __future__ import annotations

from pydantic import (
    BaseModel,
    ConfigDict,
)

__all__ = ["NamedKeyError", "_Section"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NamedKeyError(ValueError):
    """A validation error about a key below the one being validated (``key`` is dotted,
    relative to it), so the one-line message names the exact key and value."""

    def __init__(self, key: str, value: object, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.value = value
