"""copyseal: find unlicensed copies of pictures on the web and seal the evidence."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from copyseal.errors import CopysealError

try:
    __version__ = version("copyseal")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["CopysealError", "__version__"]
