"""Image URLs in CSS text and in ``srcset`` attributes.

CSS: every ``url(...)`` outside ``@font-face`` blocks, plus the bare strings of
``image-set()`` (CSS Images Level 4, §2.2), and ``@import`` targets (stylesheets to fetch).
``srcset``: the HTML Living Standard's "parse a srcset attribute" algorithm (§4.8.4.3.10),
simplified to what choosing the largest candidate needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["SrcsetCandidate", "css_image_urls", "css_imports", "largest_candidate", "parse_srcset"]

_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}", re.I | re.S)
_URL = re.compile(r"""url\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^)\s]*))\s*\)""", re.I)
_IMAGE_SET = re.compile(r"(?:-webkit-)?image-set\(([^;{}]*)\)", re.I)
_STRING = re.compile(r""""((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'""")
_IMPORT = re.compile(r"""@import\s+(?:url\(\s*)?(?:"([^"]*)"|'([^']*)'|([^)\s;]+))""", re.I)


def _strip(css: str) -> str:
    return _FONT_FACE.sub(" ", _COMMENT.sub(" ", css))


def css_image_urls(css: str) -> list[str]:
    """The (unresolved) URLs of images a piece of CSS may show, in order, without repeats.

    ``@import`` targets and font files are not included (see :func:`css_imports`).
    """
    text = _strip(css)
    imports = set(css_imports(css))
    out: list[str] = []
    for m in _URL.finditer(text):
        url = (m.group(1) or m.group(2) or m.group(3) or "").strip()
        if url and url not in imports and url not in out:
            out.append(url)
    for m in _IMAGE_SET.finditer(text):
        for s in _STRING.finditer(m.group(1)):
            url = (s.group(1) or s.group(2) or "").strip()
            if url and url not in out:
                out.append(url)
    return out


def css_imports(css: str) -> list[str]:
    """The (unresolved) URLs of stylesheets ``@import``-ed by ``css``."""
    return [
        (m.group(1) or m.group(2) or m.group(3)).strip()
        for m in _IMPORT.finditer(_COMMENT.sub(" ", css))
    ]


@dataclass(frozen=True, kw_only=True)
class SrcsetCandidate:
    """One ``srcset`` entry: a URL and its width (``w``) or density (``x``) descriptor."""

    url: str
    width: int | None = None
    density: float | None = None


def parse_srcset(value: str) -> list[SrcsetCandidate]:
    """Parse a ``srcset`` value; malformed descriptors are ignored, not fatal.

    URLs may contain commas (``data:`` URIs, CDN resize parameters): per the standard, a
    URL runs to the next whitespace, and only a trailing comma ends it.
    """
    out: list[SrcsetCandidate] = []
    i, n = 0, len(value)
    while i < n:
        while i < n and (value[i].isspace() or value[i] == ","):
            i += 1
        start = i
        while i < n and not value[i].isspace():
            i += 1
        url = value[start:i]
        descriptor = ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            start = i
            depth = 0
            while i < n:
                c = value[i]
                if c == "(":
                    depth += 1
                elif c == ")":
                    depth = max(0, depth - 1)
                elif c == "," and depth == 0:
                    break
                i += 1
            descriptor = value[start:i].strip()
        if not url:
            continue
        width: int | None = None
        density: float | None = None
        for token in descriptor.split():
            try:
                if token.endswith("w"):
                    width = int(token[:-1])
                elif token.endswith("x"):
                    density = float(token[:-1])
            except ValueError:
                continue
        out.append(SrcsetCandidate(url=url, width=width, density=density))
    return out


def largest_candidate(candidates: list[SrcsetCandidate]) -> SrcsetCandidate | None:
    """The candidate with the largest width, else the largest density, else the first."""
    if not candidates:
        return None
    with_width = [c for c in candidates if c.width is not None]
    if with_width:
        return max(with_width, key=lambda c: c.width or 0)
    return max(candidates, key=lambda c: c.density if c.density is not None else 1.0)
