"""Lazy package attributes (PEP 562): a package's ``__init__`` names the module each public
name lives in, and that module is imported when the name is first used, so that a light
command does not pay for what another command of the same package needs."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["attribute_loader"]


def attribute_loader(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """The module-level ``__getattr__`` of ``package``: ``homes`` maps each lazy name to
    the dotted module it is imported from; a name not in it is an AttributeError."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        setattr(sys.modules[package], name, value)  # later lookups do not come back here
        return value

    return __getattr__
