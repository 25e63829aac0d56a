"""Fuzzing the crawl's HTML and CSS extraction: any text in, a result out, never an error.

``extract_html`` and the CSS/srcset readers document no error at all: a page the crawler
cannot read yields an empty extract, a malformed descriptor is skipped. Inputs are both
arbitrary text and HTML built from the constructs the extractor reads (``srcset``, lazy
attributes, ``style``, JSON-LD, ``noscript``, ``<base>``), with hostile values.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from hypothesis import example, given
from hypothesis import strategies as st

from copyseal.crawl import extract_html
from copyseal.crawl._css import css_image_urls, css_imports, largest_candidate, parse_srcset

from .budget import fuzz

# Any code point, lone surrogates and NUL included (a rendered DOM is a JavaScript string).
_ANY = st.characters(codec=None, exclude_categories=())
_text = st.text(_ANY, max_size=300)
_value = st.one_of(
    _text,
    st.sampled_from(
        [
            "",
            " ",
            "#",
            "data:image/png;base64,AAAA",
            "http://[::1",
            "http://a:99999999999/x.jpg",
            "//127.0.0.1:0/x.png",
            "javascript:alert(1)",
            "a.jpg 1e999x, b.jpg 99999999999999999999999w, c.jpg -1w",
            "url(",
            "url('a.png') url(\"b.png\") image-set('c.png' 1x)",
            "http://%zz/x.jpg",
            "http://a\x00b/x.jpg",
            "http://\ud800/x.png",
            "1" * 5000 + "w",
        ]
    ),
)
_tags = st.sampled_from(
    [
        "img", "source", "picture", "image", "video", "input", "a", "area", "meta", "link",
        "style", "script", "noscript", "iframe", "frame", "base", "div", "svg", "title",
    ]
)  # fmt: skip
_attrs = st.sampled_from(
    [
        "src", "srcset", "href", "xlink:href", "poster", "type", "rel", "content", "property",
        "name", "itemprop", "style", "id", "data-src", "data-srcset", "data-bg", "data-lazy",
    ]
)  # fmt: skip


@st.composite
def _element(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(_tags)
    attrs = draw(st.dictionaries(_attrs, _value, max_size=4))
    rendered = "".join(f' {k}="{v}"' for k, v in attrs.items())
    inner = draw(
        st.lists(_element(depth + 1), max_size=2) if depth < 2 else st.lists(_text, max_size=1)
    )
    body = "".join(inner) + draw(st.sampled_from(["", '{"image": [1, {"url": 2}]}']))
    close = draw(st.sampled_from([f"</{tag}>", "", "</"]))
    return f"<{tag}{rendered}>{body}{close}"


_html = st.one_of(
    _text,
    st.lists(_element(), max_size=6).map(lambda parts: "<html><body>" + "".join(parts)),
)
_url = st.one_of(
    st.just("http://127.0.0.2:8000/gallery/page.html"),
    st.builds(lambda s: "http://127.0.0.2/" + s, _text),
    _text,
)


@fuzz(100)
@given(html=_html, url=_url)
# Found by this fuzzer: urlsplit raised "Invalid IPv6 URL" out of extract_html.
@example(html="<IMG SRC=A://[>", url="")
@example(html='<a href="http://[::1/x.jpg">x</a><img data-src="x://[">', url="http://127.0.0.2/")
def test_extract_html_never_raises(html: str, url: str) -> None:
    page = extract_html(html, url)
    for ref in page.images:
        # Every image URL is absolute http(s) or a data: URI, without a fragment.
        assert ref.url.startswith("data:") or urlsplit(ref.url).scheme in ("http", "https")
        assert ref.kinds
    for link in (*page.links, *page.next_pages, *page.iframes, *page.stylesheets):
        assert urlsplit(link).scheme in ("http", "https")


@fuzz(200)
@given(css=st.one_of(_text, st.lists(_value, max_size=8).map(" ".join)))
def test_css_readers_never_raise(css: str) -> None:
    urls = css_image_urls(css)
    assert len(urls) == len(set(urls))
    for url in urls + css_imports(css):
        assert isinstance(url, str)


@fuzz(200)
@given(value=st.one_of(_text, st.lists(_value, max_size=6).map(", ".join)))
def test_srcset_parser_never_raises(value: str) -> None:
    candidates = parse_srcset(value)
    best = largest_candidate(candidates)
    assert (best is None) == (not candidates)
    assert all(c.url and not c.url.endswith(",") for c in candidates)
