"""Where and when a licence applies: domains, wildcards, URL patterns, validity, notes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from copyseal.licences import LicenceError, LicenceIndex, LicenceRecord, instant
from copyseal.licences._rules import host_of, normalise_domain, normalise_pattern

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def lic(
    licence_id: str = "l1",
    *,
    work_id: str = "w1",
    domains: tuple[str, ...] = (),
    url_patterns: tuple[str, ...] = (),
    valid_from: datetime = T0,
    valid_until: datetime | None = None,
    revoked_at: datetime | None = None,
) -> LicenceRecord:
    return LicenceRecord(
        licence_id=licence_id,
        work_id=work_id,
        licensee="Acme",
        domains=domains,
        url_patterns=url_patterns,
        valid_from=valid_from,
        valid_until=valid_until,
        territory=None,
        terms_sha256=None,
        source="grant",
        created_at=T0,
        revoked_at=revoked_at,
    )


def verdict(index: LicenceIndex, url: str, at: datetime = T0 + timedelta(days=1)) -> object:
    v = index.classify(work_id="w1", page_url=url, at=at)
    return v.licence_id or v.note


@pytest.mark.parametrize(
    ("url", "licensed"),
    [
        ("https://example.com/a.html", True),
        ("http://EXAMPLE.com./x", True),
        ("https://www.example.com/", False),
        ("https://example.com.evil.test/", False),
        ("https://notexample.com/", False),
    ],
)
def test_a_plain_domain_covers_that_host_only(url: str, licensed: bool) -> None:
    index = LicenceIndex([lic(domains=("example.com",))])
    assert (verdict(index, url) == "l1") is licensed


@pytest.mark.parametrize(
    ("url", "licensed"),
    [
        ("https://a.example.com/", True),
        ("https://a.b.example.com/p", True),
        ("https://example.com/", False),
        ("https://badexample.com/", False),
    ],
)
def test_a_wildcard_covers_subdomains_not_the_apex(url: str, licensed: bool) -> None:
    index = LicenceIndex([lic(domains=("*.example.com",))])
    assert (verdict(index, url) == "l1") is licensed


def test_url_patterns_match_the_whole_url() -> None:
    index = LicenceIndex([lic(url_patterns=("https://shop.test/products/*",))])
    assert verdict(index, "https://shop.test/products/42/photo") == "l1"
    assert verdict(index, "https://shop.test/blog/1") != "l1"
    assert verdict(index, "http://shop.test/products/42") != "l1"


def test_validity_is_from_inclusive_until_exclusive() -> None:
    until = T0 + timedelta(days=30)
    index = LicenceIndex([lic(domains=("a.example",), valid_until=until)])
    assert verdict(index, "https://a.example/", T0) == "l1"
    assert verdict(index, "https://a.example/", until - timedelta(seconds=1)) == "l1"
    assert verdict(index, "https://a.example/", until) == (
        "licence l1 expired on 2026-07-01T00:00:00+00:00"
    )
    assert verdict(index, "https://a.example/", T0 - timedelta(seconds=1)) == (
        "licence l1 is valid only from 2026-06-01T00:00:00+00:00"
    )


def test_a_revoked_licence_covers_uses_before_the_revocation_only() -> None:
    revoked = T0 + timedelta(days=2)
    index = LicenceIndex([lic(domains=("a.example",), revoked_at=revoked)])
    assert verdict(index, "https://a.example/", T0 + timedelta(days=1)) == "l1"
    assert verdict(index, "https://a.example/", revoked) == (
        "licence l1 was revoked on 2026-06-03T00:00:00+00:00"
    )


def test_another_site_gets_a_note_naming_the_licensed_sites() -> None:
    index = LicenceIndex([lic(domains=("a.example",))])
    assert verdict(index, "https://b.example/page") == "licensed for a.example, found on b.example"


def test_a_work_without_licences_gets_no_note() -> None:
    index = LicenceIndex([lic(domains=("a.example",))])
    v = index.classify(work_id="other", page_url="https://a.example/", at=T0)
    assert (v.licensed, v.licence_id, v.note) == (False, None, None)


def test_the_longest_valid_licence_wins() -> None:
    index = LicenceIndex(
        [
            lic("l1", domains=("a.example",), valid_until=T0 + timedelta(days=5)),
            lic("l2", domains=("*.example",)),
            lic("l3", url_patterns=("https://a.example/*",), valid_until=T0 + timedelta(days=9)),
        ]
    )
    assert verdict(index, "https://a.example/x") == "l2"
    assert len(index) == 3


@pytest.mark.parametrize("bad", ["", "https://a.example/", "a.example/x", "a.*.example", "a b"])
def test_malformed_domains_are_refused(bad: str) -> None:
    with pytest.raises(LicenceError, match="not a host name"):
        normalise_domain(bad)


def test_domains_are_normalised() -> None:
    assert normalise_domain(" Example.COM. ") == "example.com"
    assert normalise_domain("*.Bücher.example") == "*.xn--bcher-kva.example"
    assert host_of("https://BÜCHER.example/") == "xn--bcher-kva.example"


def test_a_pattern_matching_everything_is_refused() -> None:
    with pytest.raises(LicenceError, match="every page"):
        normalise_pattern("**")


def test_dates_cover_whole_days() -> None:
    assert instant("2027-06-30") == datetime(2027, 6, 30, tzinfo=UTC)
    assert instant("2027-06-30", end=True) == datetime(2027, 7, 1, tzinfo=UTC)
    assert instant("2027-06-30T12:00:00+02:00") == datetime(2027, 6, 30, 10, tzinfo=UTC)
    with pytest.raises(LicenceError, match="'tomorrow' is not a date"):
        instant("tomorrow")


def test_the_note_names_three_sites_and_counts_the_rest() -> None:
    index = LicenceIndex(
        [lic(f"l{n}", domains=(f"s{n}.example",)) for n in range(5)]
        + [lic("lp", url_patterns=("https://p.example/*",))]
    )
    assert verdict(index, "https://x.example/") == (
        "licensed for s0.example, s1.example, s2.example and 3 more, found on x.example"
    )
    assert verdict(index, "https://p.example/a") == "lp"
