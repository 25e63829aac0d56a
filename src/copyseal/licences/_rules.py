"""Where and when a licence applies, and an index that answers it per match cheaply.

Rules:

- a domain ``example.com`` covers pages on exactly that host; ``*.example.com`` covers
  its subdomains at any depth (``a.example.com``, ``a.b.example.com``), not the apex,
  which is listed separately when it is meant. Hosts compare case-insensitively, without
  a trailing dot, internationalised names in their IDNA (``xn--``) form;
- a URL pattern is an :func:`fnmatch.fnmatchcase` pattern over the page's whole URL
  (``https://shop.example/products/*``): ``*`` matches any text, ``/`` included;
- a licence applies from ``valid_from`` (inclusive) until ``valid_until`` (exclusive;
  none: indefinitely) and not from its revocation on. The territory is recorded, not
  checked: a page's URL does not say where it is read.

:class:`LicenceIndex` holds the licences of many works in memory (one crawl loads it
once): a page's host is looked up in a dict per work (its own name, then each parent
suffix for wildcards), and a work's URL patterns are kept by their literal prefix (the
text before the first wildcard) and only those whose prefix starts the URL are tried, so
a match costs a few dict probes whatever the number of licences.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from copyseal.licences._model import LicenceError, LicenceRecord, Verdict
from copyseal.times import iso

__all__ = ["LicenceIndex", "host_of", "normalise_domain", "normalise_pattern"]

_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


def _ascii(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def host_of(url: str) -> str:
    """The host of a page URL as the rules compare it ('' when it has none)."""
    try:
        return _ascii(urlsplit(url).hostname or "")
    except ValueError:
        return ""


def normalise_domain(value: str) -> str:
    """A domain as stored: lower case, IDNA, no trailing dot, ``*.`` kept.

    Raises:
        LicenceError: not a host name (a URL, a path, a port, a ``*`` elsewhere).
    """
    text = value.strip()
    wildcard = text.startswith("*.")
    host = _ascii(text[2:] if wildcard else text)
    labels = host.split(".")
    if not host or not all(_LABEL.match(label) for label in labels):
        raise LicenceError(
            f"domain {value!r} is not a host name (e.g. example.com, or *.example.com for"
            " its subdomains); use --url-pattern for URLs"
        )
    return f"*.{host}" if wildcard else host


def normalise_pattern(value: str) -> str:
    """A URL pattern as stored (surrounding space removed).

    Raises:
        LicenceError: empty, or a pattern that matches every URL.
    """
    text = value.strip()
    if not text or set(text) <= {"*"}:
        raise LicenceError(f"URL pattern {value!r} would match every page; name the site")
    return text


def _valid_at(lic: LicenceRecord, at: datetime) -> bool:
    return (
        lic.valid_from <= at
        and (lic.valid_until is None or at < lic.valid_until)
        and (lic.revoked_at is None or at < lic.revoked_at)
    )


def _why_not(lic: LicenceRecord, at: datetime) -> str:
    """Why a licence that covers the page does not cover the use at ``at``."""
    if lic.revoked_at is not None and lic.revoked_at <= at:
        return f"licence {lic.licence_id} was revoked on {iso(lic.revoked_at)}"
    if lic.valid_until is not None and lic.valid_until <= at:
        return f"licence {lic.licence_id} expired on {iso(lic.valid_until)}"
    return f"licence {lic.licence_id} is valid only from {iso(lic.valid_from)}"


def _preference(lic: LicenceRecord) -> tuple[int, datetime, str]:
    """Among licences that cover a use, the one valid longest wins (then the oldest id)."""
    until = lic.valid_until
    return (0 if until is None else 1, until or lic.valid_from, lic.licence_id)


def _literal_prefix(pattern: str) -> str:
    """The text every URL a pattern matches starts with (up to its first wildcard)."""
    cut = min((i for i in (pattern.find(c) for c in "*?[") if i >= 0), default=len(pattern))
    return pattern[:cut]


@dataclass
class _WorkLicences:
    exact: dict[str, list[LicenceRecord]] = field(default_factory=dict)
    wildcard: dict[str, list[LicenceRecord]] = field(default_factory=dict)
    #: URL patterns by their literal prefix: a URL is tried only against the patterns
    #: whose prefix it starts with (one dict probe per distinct prefix length).
    patterns: dict[str, list[tuple[str, LicenceRecord]]] = field(default_factory=dict)
    prefix_lengths: set[int] = field(default_factory=set)
    every: list[LicenceRecord] = field(default_factory=list)
    sites: dict[str, None] = field(default_factory=dict)

    def add(self, lic: LicenceRecord) -> None:
        self.every.append(lic)
        for d in lic.domains:
            if d.startswith("*."):
                self.wildcard.setdefault(d[2:], []).append(lic)
            else:
                self.exact.setdefault(d, []).append(lic)
            self.sites.setdefault(d)
        for p in lic.url_patterns:
            prefix = _literal_prefix(p)
            self.patterns.setdefault(prefix, []).append((p, lic))
            self.prefix_lengths.add(len(prefix))
            self.sites.setdefault(p)

    def covering(self, url: str, host: str) -> list[LicenceRecord]:
        """The licences whose domains or patterns cover the page (at any time)."""
        found = list(self.exact.get(host, ()))
        if self.wildcard:
            labels = host.split(".")
            for i in range(1, len(labels)):
                found.extend(self.wildcard.get(".".join(labels[i:]), ()))
        for n in self.prefix_lengths:
            if n <= len(url):
                for p, lic in self.patterns.get(url[:n], ()):
                    if fnmatch.fnmatchcase(url, p):
                        found.append(lic)
        return found

    def note_sites(self) -> str:
        """The first sites the work is licensed for, for a note."""
        shown = ", ".join(itertools.islice(self.sites, 3))
        more = len(self.sites) - 3
        return (shown + (f" and {more} more" if more > 0 else "")) or "no site"


class LicenceIndex:
    """The licences of some works, answering :meth:`classify` in memory."""

    def __init__(self, licences: Iterable[LicenceRecord] = ()) -> None:
        self._works: dict[str, _WorkLicences] = {}
        for lic in licences:
            self.add(lic)

    def __len__(self) -> int:
        return sum(len(w.every) for w in self._works.values())

    def add(self, lic: LicenceRecord) -> None:
        self._works.setdefault(lic.work_id, _WorkLicences()).add(lic)

    def licences(self, work_id: str) -> Sequence[LicenceRecord]:
        w = self._works.get(work_id)
        return () if w is None else tuple(w.every)

    def classify(self, *, work_id: str, page_url: str, at: datetime) -> Verdict:
        """Whether a licence of ``work_id`` covers its use on ``page_url`` at ``at``.

        Not licensed, the note says why when the work has licences: the licence that
        covers the page expired, was revoked or is not valid yet, or the licences cover
        other sites ("licensed for a.example, found on b.example").
        """
        w = self._works.get(work_id)
        if w is None:
            return Verdict(licence_id=None)
        host = host_of(page_url)
        covering = w.covering(page_url, host)
        valid = [lic for lic in covering if _valid_at(lic, at)]
        if valid:
            return Verdict(licence_id=min(valid, key=_preference).licence_id)
        if covering:
            latest = max(covering, key=lambda lic: lic.revoked_at or lic.valid_until or at)
            return Verdict(licence_id=None, note=_why_not(latest, at))
        return Verdict(
            licence_id=None, note=f"licensed for {w.note_sites()}, found on {host or page_url}"
        )
