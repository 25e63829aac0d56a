"""The report's page layout: its fonts, headings, paragraphs and label/value rows.

Text is set in DejaVu Sans and DejaVu Sans Mono (2.37, shipped in ``fonts/`` with their
licence), embedded as subsets with a ToUnicode map, so the text can be searched and
copied. They cover Latin with every accent, Greek, Cyrillic, Armenian, Georgian, Hebrew
and Arabic letters (set without shaping: Arabic shows unjoined letters, right-to-left
text in stored order) and many symbols; a character one font lacks is taken from the
other. Characters neither has (Chinese, Japanese, Korean, Devanagari, Thai, ...) are
written as their code points, ``[U+6771 U+4EAC]``, and the report says so; case.json
and the PDF's metadata (title, author) keep the exact text.

Lines are broken by :func:`copyseal.export._wrap.wrap` (at spaces; inside URLs and hashes
only at sensible points) and set one per line.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos
from fpdf.fonts import TTFFont

from copyseal.export._wrap import wrap
from copyseal.times import utc

__all__ = ["MARGIN", "MONO", "SANS", "Report", "facts", "heading", "para", "when"]

MARGIN = 15.0
_FONTS = Path(__file__).with_name("fonts")
SANS = "DejaVu"
MONO = "DejaVuMono"


def when(value: datetime | None) -> str:
    """A time as the report prints it (``2026-12-05 10:00:00 UTC``; ``-`` for none)."""
    return "-" if value is None else utc(value).strftime("%Y-%m-%d %H:%M:%S UTC")


class Report(FPDF):
    """The report's document: the DejaVu fonts, and text limited to what they cover."""

    def __init__(self, case_id: str) -> None:
        super().__init__(format="A4")
        self.case_id = case_id
        self.add_font(SANS, "", _FONTS / "DejaVuSans.ttf")
        self.add_font(SANS, "B", _FONTS / "DejaVuSans-Bold.ttf")
        self.add_font(MONO, "", _FONTS / "DejaVuSansMono.ttf")
        # A glyph missing in one font (e.g. Cyrillic letters in the monospaced one, or in
        # the bold face) is taken from another.
        self.set_fallback_fonts([SANS, MONO], exact_match=False)
        self.covered = frozenset(
            code for f in self.fonts.values() if isinstance(f, TTFFont) for code in f.cmap
        )
        #: Whether some character had to be written as a code point (see :meth:`shown`).
        self.replaced = False

    def shown(self, value: object) -> str:
        """``value`` as text, each run of characters no font has as ``[U+XXXX ...]``."""
        out: list[str] = []
        missing: list[str] = []
        for ch in str(value):
            if ch == "\n" or ord(ch) in self.covered:
                if missing:
                    out.append("[" + " ".join(missing) + "]")
                    missing = []
                out.append(ch)
            else:
                missing.append(f"U+{ord(ch):04X}")
                self.replaced = True
        if missing:
            out.append("[" + " ".join(missing) + "]")
        return "".join(out)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(SANS, "", 8)
        self.set_text_color(110)
        self.cell(
            0, 5, self.shown(f"copyseal case {self.case_id} - page {self.page_no()}"), align="C"
        )
        self.set_text_color(0)

    def lines(self, value: object, width: float) -> str:
        """``value`` as shown (:meth:`shown`), broken into lines that fit a cell of
        ``width`` in the current font (:func:`~copyseal.export._wrap.wrap`)."""
        room = width - 2 * self.c_margin - 0.05
        return "\n".join(wrap(self.shown(value), room, self.get_string_width))


def heading(pdf: Report, text: str, size: int = 14) -> None:
    pdf.set_font(SANS, "B", size)
    text = pdf.lines(text, pdf.w - pdf.l_margin - pdf.r_margin)
    pdf.multi_cell(0, size * 0.5, text, wrapmode=WrapMode.WORD, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1.5)


def para(pdf: Report, text: str, *, mono: bool = False, size: float = 9.5) -> None:
    pdf.set_font(MONO if mono else SANS, "", size)
    text = pdf.lines(text, pdf.w - pdf.l_margin - pdf.r_margin)
    pdf.multi_cell(
        0, size * 0.48, text, wrapmode=WrapMode.WORD, new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.ln(1)


def facts(pdf: Report, rows: Sequence[tuple[str, object]]) -> None:
    """Label/value rows: the label in bold, the value in the monospaced font."""
    width = pdf.w - 2 * MARGIN
    for label, value in rows:
        pdf.set_font(SANS, "B", 8.5)
        y = pdf.get_y()
        if y > pdf.h - 25:
            pdf.add_page()
            y = pdf.get_y()
        pdf.cell(42, 4.4, pdf.shown(label))
        pdf.set_font(MONO, "", 8.5)
        pdf.multi_cell(
            width - 42,
            4.4,
            pdf.lines(value, width - 42),
            wrapmode=WrapMode.WORD,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    pdf.ln(2)
