"""The per-host image cap counts a host once, however a hostile page spells it."""

from __future__ import annotations

from copyseal.crawl._caps import ImageCaps
from copyseal.crawl._extract import extract_html

#: One third-party host in spellings that Scrapy and Chromium fetch from the same place.
VICTIM = (
    "http://victim.example/a.png",
    "http://victim.example./b.png",
    "http://VICTIM.Example/c.png",
    "http://\uff56\uff49\uff43\uff54\uff49\uff4d.example/d.png",  # full-width letters
    "http://victim.example:8080/e.png",
)
NUMERIC = (
    "http://198.51.100.7/a.png",
    "http://3325256711/b.png",  # decimal
    "http://0xc6.0x33.0x64.0x7/c.png",  # hex
    "http://0306.063.0144.07/d.png",  # octal
    "http://198.51.25607/e.png",  # short form
    "http://[::ffff:198.51.100.7]/f.png",  # IPv4-mapped
)


def admitted(urls: tuple[str, ...], *, per_host: int) -> tuple[list[str], list[str]]:
    page = "http://page.example/gallery"
    html = "<html><body>" + "".join(f'<img src="{u}">' for u in urls) + "</body></html>"
    refs = extract_html(html, page).images
    assert len(refs) == len(urls)
    caps = ImageCaps(per_page=100, per_host=per_host, allowed_domains=())
    keep, capped = caps.admit(page, refs)
    return [r.url for r in keep], [c.code for c in capped]


def test_spellings_of_one_host_share_its_cap() -> None:
    keep, capped = admitted(VICTIM, per_host=2)
    assert keep == list(VICTIM[:2])
    assert capped == ["max-images-host"] * 3


def test_numeric_forms_of_one_ipv4_address_share_its_cap() -> None:
    keep, capped = admitted(NUMERIC, per_host=1)
    assert keep == list(NUMERIC[:1])
    assert capped == ["max-images-host"] * 5


def test_the_pages_own_host_in_another_spelling_is_not_foreign() -> None:
    caps = ImageCaps(per_page=10, per_host=0, allowed_domains=("gallery.example",))
    assert not caps.foreign("http://page.example/", "http://PAGE.example./x.png")
    assert not caps.foreign("http://page.example/", "http://www.gallery.example./x.png")
    assert caps.foreign("http://page.example/", "http://other.example/x.png")
