"""The report's line breaking: words are never split, URLs break only after ``/ ? & = #``,
hashes only between groups of 16 digits; checked on the rules, then on a rendered PDF by
extracting its text (pypdf) and rendering its page (pypdfium2)."""

from __future__ import annotations

import io
import itertools
import re

import pypdf
import pypdfium2
import pytest

from copyseal.export._layout import Report, facts, heading, para
from copyseal.export._wrap import HEX_GROUP, break_points, wrap

PROSE = (
    "This report accompanies a case package made by copyseal. Every finding below was"
    " captured and sealed in a signed evidence bundle anchored in an append-only Merkle"
    " ledger, then confirmed by a person. The bundles, receipts and checkpoints in the"
    " package can be verified by anyone, offline, with the ledger's verifier key."
)
URL = (
    "https://images.shop.example/catalogue/2026/harbour-collection/photographs/"
    "harbour-at-dawn-original-full-resolution.jpg?utm_source=newsletter&utm_medium=email"
    "&session=7f3a9c2b1d4e5f60&size=large#gallery-item-42"
)
SHA = "8fc09788e95676304f8cccc6201ff44fe2f6417fa0c6a6bce7a3193f10f5c150"
LONG_HEX = SHA + SHA[::-1]  # wider than a facts value's column


def _chars(text: str) -> float:
    return float(len(text))


def test_words_are_never_split() -> None:
    lines = wrap(PROSE, 23, _chars)
    assert all(len(line) <= 23 for line in lines)
    assert " ".join(lines).split() == PROSE.split()


def test_urls_break_after_delimiters_and_hashes_between_groups() -> None:
    assert break_points("a/b?c&d") == [2, 4, 6]
    assert break_points(SHA) == [16, 32, 48]
    # 48 characters: every piece between two delimiters fits (a longer one would be cut
    # by characters, the last resort tested below).
    lines = wrap(f"Page URL {URL} SHA-256 {SHA}", 48, _chars)
    joined = "".join(lines)
    assert URL in joined.replace("Page URL", "").replace(" ", "") or URL in "".join(
        line.strip() for line in lines
    )
    for line in lines:
        assert len(line) <= 48
    # Where the URL is cut, the line ends with a delimiter.
    url_lines = [line for line in lines if line and line in URL]
    assert len(url_lines) >= 3
    assert all(line[-1] in "/?&=#" for line in url_lines[:-1])
    sha_lines = wrap(SHA, 40, _chars)
    assert sha_lines == [SHA[:32], SHA[32:]]
    assert all(len(part) % HEX_GROUP == 0 for part in sha_lines)


def test_a_long_piece_between_delimiters_breaks_before_a_hyphen_not_inside_a_word() -> None:
    # "variant=...&" is wider than the line: it breaks before "-" or "." (second choice),
    # never inside "customers" (seen in a report: "custom / ers").
    token = (
        "http://127.0.0.1/collage.jpg?variant=extra-large-high-resolution-print-preview"
        "-with-watermark-removed-for-customers&sig=0a1b"
    )
    lines = wrap(token, 40, _chars)
    assert "".join(lines) == token and all(len(line) <= 40 for line in lines)
    for line, after in itertools.pairwise(lines):
        assert line[-1] in "/?&=#" or after[0] in "-._~%", (line, after)
    assert wrap("ab-" + "c" * 12, 8, _chars) == ["ab", "-ccccccc", "ccccc"]


def test_indentation_is_kept_and_a_hopeless_token_is_cut_by_characters() -> None:
    assert wrap("   one two three four", 12, _chars) == ["   one two", "   three", "   four"]
    assert wrap("x" * 25, 10, _chars) == ["x" * 10, "x" * 10, "x" * 5]
    assert wrap("a\n\nb", 10, _chars) == ["a", "", "b"]


@pytest.fixture(scope="module")
def pdf_bytes() -> bytes:
    pdf = Report("case-wrap")
    pdf.set_margins(15, 15, 15)
    pdf.add_page()
    heading(pdf, "Evidence report: a deliberately long title that must wrap at word boundaries")
    para(pdf, PROSE)
    para(pdf, PROSE, size=8.5)
    facts(
        pdf,
        [
            ("Page URL", URL),
            ("Manifest SHA-256", SHA),
            ("Image URL", URL + "&x=1"),
            ("Digest", LONG_HEX),
        ],
    )
    para(pdf, f"Each bundle hash, e.g. {SHA}, and the page {URL} appear whole.", mono=True)
    return bytes(pdf.output())


def _text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_pdf_text_has_no_word_split_across_lines(pdf_bytes: bytes) -> None:
    text = _text(pdf_bytes)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    words = set(re.findall(r"[A-Za-z]+", PROSE))
    # Every line starts and ends with a whole word of the prose (no "seale" / "d").
    prose_lines = [line for line in lines if line.split()[0] in words or line.startswith("This")]
    assert len(prose_lines) >= 6
    flat = " ".join(lines)
    assert " ".join(PROSE.split()) in flat
    for word in ("sealed", "The", "append-only", "confirmed", "verifier"):
        assert re.search(rf"(^|\s){re.escape(word)}(\s|[.,]|$)", flat), word


def test_pdf_urls_and_hashes_break_only_at_sensible_points(pdf_bytes: bytes) -> None:
    text = _text(pdf_bytes)
    lines = [line.strip() for line in text.splitlines()]
    glued = "".join(lines)
    assert URL in glued and SHA in glued and LONG_HEX in glued
    # A line that ends inside the URL ends after a delimiter.
    cut_in_url = 0
    for line, following in itertools.pairwise(lines):
        tail, head = (line.split() or [""])[-1], (following.split() or [""])[0]
        if tail and head and tail + head in URL:
            cut_in_url += 1
            assert tail[-1] in "/?&=#", (tail, head)
    assert cut_in_url >= 2
    # The 128-digit value is cut only between whole groups of 16 digits.
    (first,) = [line for line in lines if line.startswith("Digest")]
    shown = first.split()[-1]
    assert LONG_HEX.startswith(shown) and len(shown) < len(LONG_HEX)
    assert len(shown) % HEX_GROUP == 0


def test_pdf_page_renders_with_text_inside_the_margins(pdf_bytes: bytes) -> None:
    doc = pypdfium2.PdfDocument(pdf_bytes)
    try:
        page = doc[0]
        image = page.render(scale=1).to_pil().convert("L")
    finally:
        doc.close()
    width, height = image.size
    inked = [
        x for x in range(width) if any(image.getpixel((x, y)) < 128 for y in range(0, height, 2))
    ]
    assert inked, "nothing was drawn"
    # 15 mm margins on an A4 page (210 mm): text stays between them.
    left, right = 15 / 210 * width, (210 - 15) / 210 * width
    assert min(inked) >= left - 2 and max(inked) <= right + 2
    assert max(inked) > 0.8 * width  # lines are filled, not broken early
