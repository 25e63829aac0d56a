"""JSON from outside copyseal, with its nesting depth bounded before it is parsed.

Python's ``json`` recurses once per nested array or object, so a document nested deeper
than the interpreter's recursion limit raises ``RecursionError`` (a ``RuntimeError``, which
parsers catching ``ValueError`` miss); and once py_ecc is imported (eth_account loads it
for the EVM anchor) the limit is 100000, where ~200 000 nested brackets overflow the C
stack and kill the process with SIGSEGV instead (both measured with CPython 3.11 here).
Every parser of JSON that arrives from outside (anchor proof files, bundle manifests,
ledger statements, anchor proofs, JSON-LD in crawled pages) reads it through
:func:`loads`, which refuses a document nested deeper than :data:`MAX_DEPTH` with a
``ValueError``, as ``json.loads`` does for any other malformed document.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["MAX_DEPTH", "loads"]

#: Deepest nesting accepted. copyseal's own documents nest at most ~6 levels; JSON-LD in
#: pages seen in the wild stays well below 20.
MAX_DEPTH = 100

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(r"[\[{\]}]")


def _check_depth(text: str, max_depth: int) -> None:
    if text.count("[") + text.count("{") <= max_depth:
        return  # cannot be deeper: skip the scan (the common case)
    depth = 0
    for m in _BRACKET.finditer(_STRING.sub("", text)):
        if m.group() in "[{":
            depth += 1
            if depth > max_depth:
                raise ValueError(f"JSON nested deeper than {max_depth} levels")
        else:
            depth -= 1


def loads(data: str | bytes, *, max_depth: int = MAX_DEPTH, **kwargs: Any) -> Any:
    """``json.loads(data, **kwargs)`` after checking that ``data`` nests at most
    ``max_depth`` arrays and objects.

    Raises:
        ValueError: too deep, or not JSON (``json.JSONDecodeError``).
        UnicodeDecodeError: bytes in no encoding ``json.loads`` detects.
    """
    # Brackets are the same byte in any ASCII-compatible view of bytes (and stay separate
    # characters in a UTF-16/32 one), so a latin-1 view counts them without decoding.
    _check_depth(data if isinstance(data, str) else data.decode("latin-1"), max_depth)
    return json.loads(data, **kwargs)
