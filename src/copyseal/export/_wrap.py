"""Line breaking for the report: at word boundaries, and inside long tokens only where a
reader expects it.

fpdf2's ``WrapMode.CHAR`` breaks anywhere ("seale / d"); its ``WORD`` mode breaks at spaces
but cuts a token wider than the line at an arbitrary character. Here each paragraph is
broken greedily at spaces; a token wider than the line (a URL, a hash, a base64 signature)
is broken after ``/``, ``?``, ``&``, ``=`` or ``#`` (RFC 3986's delimiters, where URL
line breaks are conventionally allowed: the Chicago Manual of Style, 14.18), and inside a
run of 32 or more hex digits only every 16 digits, so a hash reads in whole groups. A
piece between two of those still wider than the line is broken before ``-``, ``.``,
``_``, ``~`` or ``%`` (the same source's second choice: "before a ... hyphen, underscore,
... or percent symbol"), so ``high-resolution-preview`` breaks as ``high-resolution`` /
``-preview``, never inside a word. Only a piece that still does not fit is cut by
characters. The lines are then set one per
line, so the PDF's text has no hidden break characters: copying it gives the original
text, with line ends where it was broken.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["HEX_GROUP", "break_points", "wrap"]

#: Digits per group when a long hex run (a SHA-256) must be broken.
HEX_GROUP = 16
_AFTER = frozenset("/?&=#")
_BEFORE = frozenset("-._~%")
_HEX_RUN = re.compile(r"[0-9a-fA-F]{32,}")

Measure = Callable[[str], float]


def break_points(token: str) -> list[int]:
    """Offsets inside ``token`` where it may be broken (a break at ``i`` ends a line
    with ``token[:i]``), in increasing order."""
    points = {i + 1 for i, ch in enumerate(token[:-1]) if ch in _AFTER}
    for run in _HEX_RUN.finditer(token):
        points.update(range(run.start() + HEX_GROUP, run.end(), HEX_GROUP))
    return sorted(p for p in points if 0 < p < len(token))


def _by_chars(piece: str, width: float, measure: Measure) -> list[str]:
    """The last resort: as many characters per line as fit (at least one)."""
    lines, line = [], ""
    for ch in piece:
        if line and measure(line + ch) > width:
            lines.append(line)
            line = ""
        line += ch
    return [*lines, line] if line else lines


def _soft_points(piece: str) -> list[int]:
    """Offsets before ``-._~%`` inside ``piece`` (the second choice of break)."""
    return [i for i, ch in enumerate(piece) if ch in _BEFORE and i > 0]


def _split_token(token: str, width: float, measure: Measure) -> list[str]:
    """A token wider than ``width`` as lines, each as long as fits, broken at its break
    points (before ``-._~%`` where none fits, by characters only where neither does)."""
    return _greedy(
        token,
        break_points(token),
        width,
        measure,
        lambda piece: _greedy(
            piece, _soft_points(piece), width, measure, lambda p: _by_chars(p, width, measure)
        ),
    )


def _greedy(
    token: str,
    points: list[int],
    width: float,
    measure: Measure,
    fallback: Callable[[str], list[str]],
) -> list[str]:
    """``token`` as pieces as long as fit, cut at ``points``; a piece between two points
    that is too wide alone is split by ``fallback``."""
    pieces: list[str] = []
    start = fits = 0  # token[start:fits] is the longest piece known to fit
    for cut in [*points, len(token)]:
        if measure(token[start:cut]) <= width:
            fits = cut
            continue
        if fits > start:
            pieces.append(token[start:fits])
            start = fits
            if measure(token[start:cut]) <= width:
                fits = cut
                continue
        chunks = fallback(token[start:cut])
        pieces.extend(chunks[:-1])
        start, fits = cut - len(chunks[-1]), cut
    pieces.append(token[start:])
    return [p for p in pieces if p]


def _paragraph(text: str, width: float, measure: Measure) -> list[str]:
    stripped = text.lstrip(" ")
    indent = text[: len(text) - len(stripped)]
    if measure(indent) > width / 2:
        indent = ""
    lines: list[str] = []
    line = ""  # without the indentation
    for word in stripped.split():
        candidate = f"{line} {word}" if line else word
        if measure(indent + candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(indent + line)
            line = ""
        if measure(indent + word) <= width:
            line = word
            continue
        parts = _split_token(word, width - measure(indent), measure)
        lines.extend(indent + p for p in parts[:-1])
        line = parts[-1]
    lines.append(indent + line if line else "")
    return lines


def wrap(text: str, width: float, measure: Measure) -> list[str]:
    """``text`` as lines no wider than ``width`` (as ``measure`` gives widths): each
    ``\\n``-separated paragraph keeps its leading indentation on every line."""
    return [line for part in text.split("\n") for line in _paragraph(part, width, measure)]
