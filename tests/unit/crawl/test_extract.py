from __future__ import annotations

import pytest

from copyseal.crawl import ImageRef, extract_html
from copyseal.crawl._css import css_image_urls, css_imports, largest_candidate, parse_srcset
from copyseal.crawl._extract import merge_refs

BASE = "https://shop.example/dir/page.html"


def kinds_of(html: str) -> dict[str, tuple[str, ...]]:
    return {r.url: r.kinds for r in extract_html(html, BASE).images}


@pytest.mark.parametrize(
    ("html", "url", "kind"),
    [
        ('<img src="a.jpg">', "https://shop.example/dir/a.jpg", "img"),
        (
            '<img src="s.jpg" srcset="s.jpg 300w, l.jpg 1200w, m.jpg 800w">',
            "https://shop.example/dir/l.jpg",
            "srcset",
        ),
        ('<img src="one.jpg" srcset="two.jpg 2x">', "https://shop.example/dir/two.jpg", "srcset"),
        (
            '<picture><source srcset="/p.webp 1x, /p2.webp 2x"><img src="/f.jpg"></picture>',
            "https://shop.example/p2.webp",
            "picture",
        ),
        (
            '<img data-src="/lazy.jpg" src="data:image/gif;base64,R0lGOD">',
            "https://shop.example/lazy.jpg",
            "lazy",
        ),
        ('<img data-original="/orig.jpg">', "https://shop.example/orig.jpg", "lazy"),
        ('<img data-lazy-src="/ls.jpg">', "https://shop.example/ls.jpg", "lazy"),
        ('<img data-srcset="/a.jpg 100w, /b.jpg 900w">', "https://shop.example/b.jpg", "lazy"),
        ('<div data-bg="url(/bg.jpg)"></div>', "https://shop.example/bg.jpg", "lazy"),
        (
            "<div style=\"background-image: url('/st.jpg')\"></div>",
            "https://shop.example/st.jpg",
            "style-attr",
        ),
        (
            "<style>.x{background:url(/tag.png)}</style>",
            "https://shop.example/tag.png",
            "style-tag",
        ),
        (
            '<meta property="og:image" content="https://cdn.example/og.jpg">',
            "https://cdn.example/og.jpg",
            "og:image",
        ),
        (
            '<meta name="twitter:image" content="/tw.jpg">',
            "https://shop.example/tw.jpg",
            "twitter:image",
        ),
        (
            '<script type="application/ld+json">{"@graph":[{"image":{"url":"/ld.jpg"}}]}</script>',
            "https://shop.example/ld.jpg",
            "json-ld",
        ),
        ('<noscript><img src="/ns.jpg"></noscript>', "https://shop.example/ns.jpg", "noscript"),
        ('<svg><image href="/svg.png"/></svg>', "https://shop.example/svg.png", "svg-image"),
        ('<video poster="/poster.jpg"></video>', "https://shop.example/poster.jpg", "video-poster"),
        ('<a href="/full/size.JPG">big</a>', "https://shop.example/full/size.JPG", "link"),
        (
            '<img src="data:image/png;base64,iVBORw0KGgo=">',
            "data:image/png;base64,iVBORw0KGgo=",
            "img",
        ),
    ],
)
def test_every_way_a_page_shows_an_image(html: str, url: str, kind: str) -> None:
    found = kinds_of(f"<html><body>{html}</body></html>")
    assert url in found, found
    assert kind in found[url]


def test_srcset_chooses_only_the_largest_candidate() -> None:
    found = kinds_of('<img src="s.jpg" srcset="s.jpg 300w, l.jpg 1200w">')
    assert list(found) == ["https://shop.example/dir/l.jpg"]


def test_base_href_links_iframes_pagination_and_stylesheets() -> None:
    page = extract_html(
        """<html><head><title> A title </title><base href="https://cdn.example/x/">
        <link rel="stylesheet" href="site.css"><link rel="next" href="/p2"></head>
        <body><img src="i.jpg"><a href="/about#team">a</a><a href="mailto:x@y">m</a>
        <a href="javascript:void(0)">j</a><iframe src="/frame"></iframe>
        <style>@import url("more.css");</style></body></html>""",
        BASE,
    )
    assert page.title == "A title"
    assert [r.url for r in page.images] == ["https://cdn.example/x/i.jpg"]
    assert page.links == ("https://cdn.example/about",)
    assert page.next_pages == ("https://cdn.example/p2",)
    assert page.iframes == ("https://cdn.example/frame",)
    assert page.stylesheets == ("https://cdn.example/x/site.css", "https://cdn.example/x/more.css")


def test_selectors_prefer_ids_and_count_siblings() -> None:
    refs = extract_html(
        '<html><body><div id="main"><p><img src="a.jpg"><img src="b.jpg"></p></div></body></html>',
        BASE,
    ).images
    assert [r.selector for r in refs] == [
        "#main > p > img:nth-of-type(1)",
        "#main > p > img:nth-of-type(2)",
    ]


def test_selectors_of_a_wide_listing_count_each_tag_among_its_own_siblings() -> None:
    items = "".join(
        f'<div><a href="/i/{i}"><img src="{i}.jpg"></a><span>{i}</span></div><p>ad</p>'
        for i in range(120)
    )
    html = f"<html><body><main>{items}<img src='last.jpg'></main></body></html>"
    refs = extract_html(html, BASE).images
    assert len(refs) == 121
    assert refs[0].selector == "html > body > main > div:nth-of-type(1) > a > img"
    assert refs[119].selector == "html > body > main > div:nth-of-type(120) > a > img"
    assert refs[120].selector == "html > body > main > img"  # the only img child of main


def test_empty_and_broken_html_give_nothing() -> None:
    assert extract_html("", BASE).images == ()
    assert extract_html("<<<>>>", BASE).images == ()
    bad_json = '<script type="application/ld+json">{not json</script><img src="ok.jpg">'
    assert [r.url for r in extract_html(bad_json, BASE).images] == [
        "https://shop.example/dir/ok.jpg"
    ]


def test_css_urls_skip_fonts_and_imports_and_read_image_set() -> None:
    css = """/* url(commented.png) */ @import "x.css";
    @font-face { src: url(font.woff2) format("woff2"); }
    .a { background: url("a.png"), url('b.png'); }
    .b { background-image: image-set("c.avif" 1x, "d.jpg" 2x); }"""
    assert css_image_urls(css) == ["a.png", "b.png", "c.avif", "d.jpg"]
    assert css_imports(css) == ["x.css"]


def test_srcset_parser_keeps_commas_inside_urls() -> None:
    cands = parse_srcset(
        "https://cdn.example/img,w_300.jpg 300w, https://cdn.example/img,w_900.jpg 900w"
    )
    assert [c.url for c in cands] == [
        "https://cdn.example/img,w_300.jpg",
        "https://cdn.example/img,w_900.jpg",
    ]
    best = largest_candidate(cands)
    assert best is not None and best.width == 900
    assert largest_candidate([]) is None


def test_merge_unites_kinds_and_prefers_the_rendered_box() -> None:
    static = ImageRef(url="https://x/a.jpg", kinds=("img",), selector="body > img")
    rendered = ImageRef(
        url="https://x/a.jpg", kinds=("rendered",), selector="#a", bbox=(1, 2, 3, 4)
    )
    other = ImageRef(url="https://x/b.jpg", kinds=("network",))
    merged = merge_refs([static, other, rendered])
    assert [m.url for m in merged] == ["https://x/a.jpg", "https://x/b.jpg"]
    assert merged[0].kinds == ("img", "rendered")
    assert (merged[0].selector, merged[0].bbox) == ("#a", (1, 2, 3, 4))
    assert merged[0].location() == {
        "kinds": ["img", "rendered"],
        "selector": "#a",
        "bbox": [1, 2, 3, 4],
        "frame": None,
    }
