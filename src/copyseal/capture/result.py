"""Value types of a capture: what to highlight, the files written and the result.

All are frozen, keyword-only dataclasses. A :class:`Capture` lists every file of a capture
folder with its SHA-256 (computed while the file was written, before the folder was moved
into place), so the bundle step can copy the list into its manifest without re-reading.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["LAYOUT", "Artefact", "Box", "Capture", "CaptureOptions", "Target", "summary_bytes"]

#: Relative paths of a capture folder's files (``NN`` is the 1-based target number).
LAYOUT = {
    "summary": "capture.json",
    "screenshot-full": "screenshots/full.png",
    "screenshot-viewport": "screenshots/viewport.png",
    "closeup": "closeups/{n:02d}.png",
    "raw-html": "page/raw.html",
    "dom": "page/dom.html",
    "image": "images/{n:02d}{ext}",
    "wacz": "archive.wacz",
}


@dataclass(frozen=True, kw_only=True)
class Box:
    """A rectangle in CSS pixels, in page coordinates (origin at the document's top left)."""

    x: float
    y: float
    width: float
    height: float

    def to_json(self) -> dict[str, float]:
        return {"x": self.x, "y": self.y, "width": self.width, "height": self.height}


@dataclass(frozen=True, kw_only=True)
class Target:
    """A matched image to keep and outline on the page.

    Give ``url`` (the image's address as the crawler saw it: ``src``, ``currentSrc`` or a
    CSS ``background-image``), ``box`` (where it sits on the page), or both; with both, the
    element found by URL wins and the box is the fallback.
    """

    url: str | None = None
    box: Box | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if self.url is None and self.box is None:
            raise ValueError("a capture target needs a url or a box")


@dataclass(frozen=True, kw_only=True)
class CaptureOptions:
    """How one page is loaded and photographed. Times are in seconds."""

    #: Viewport width and height in CSS pixels (device scale factor 1).
    viewport: tuple[int, int] = (1280, 800)
    #: ``None``: the browser's own User-Agent.
    user_agent: str | None = None
    #: Bound on navigation until the ``load`` event (DNS, connect, redirects, document).
    load_timeout: float = 30.0
    #: Bound on waiting for the network to fall quiet after loading and scrolling.
    settle_timeout: float = 10.0
    #: The network counts as settled after this long without a request in flight (the
    #: wait is event-driven: it ends this long after the last request finished).
    idle_time: float = 0.5
    #: Mouse-wheel scroll step (pixels) and the most steps taken, to trigger lazy images.
    scroll_step: int = 700
    max_scroll_steps: int = 40
    #: Extra fixed pause after each wheel step. Each step already waits until the page has
    #: rendered two frames at the new position, which is when IntersectionObserver-driven
    #: lazy loaders (and Chromium's ``loading=lazy``) react; the requests they start are
    #: then waited for by the settle. Raise it for scroll handlers that act on a timer.
    scroll_pause: float = 0.0
    #: Context kept around a matched image in its close-up, in CSS pixels.
    closeup_margin: int = 80
    #: Accept certificates the browser does not trust (the facts record that it did).
    ignore_https_errors: bool = False
    #: Probe the server's TLS certificate with Python's ``ssl`` (trust by the system
    #: store, and the leaf when the browser cannot give the chain): one more connection.
    tls_probe: bool = True
    #: ``host`` or ``host:port`` of an NTP server to measure the clock offset (off: None).
    ntp_server: str | None = None
    ntp_timeout: float = 2.0
    #: Full-page screenshots are cut at this height (Chromium's texture limit is 16384).
    max_page_height: int = 16_000
    #: Capture a page the server answered with HTTP 400 or more (a 404, a login wall's
    #: 401) instead of failing: a re-visit keeps what the server showed as evidence of
    #: the page's state. ``facts["page"]["status"]`` holds the status.
    keep_error_pages: bool = False


@dataclass(frozen=True, kw_only=True)
class Artefact:
    """One file of a capture folder."""

    #: Path relative to the capture folder, with ``/`` separators.
    path: str
    #: Lower-case hex SHA-256 of the file's bytes.
    sha256: str
    size: int
    media_type: str
    #: What the file is: ``screenshot-full``, ``screenshot-viewport``, ``closeup``,
    #: ``raw-html``, ``dom``, ``image``, ``wacz``.
    role: str

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "media_type": self.media_type,
            "role": self.role,
        }


@dataclass(frozen=True, kw_only=True)
class Capture:
    """The result of capturing one page: files, facts, timings and non-fatal problems.

    ``facts`` is a JSON-safe mapping with the keys ``page``, ``network``, ``environment``,
    ``targets`` and ``warc`` (see the package documentation for its shape). ``errors`` lists
    problems that did not stop the capture (the network never settled, a matched image was
    not found on the page, ...). A capture that could not be made raises
    :class:`~copyseal.errors.CaptureError` instead and leaves nothing behind.
    """

    capture_id: str
    url: str
    final_url: str
    folder: Path
    started_at: datetime
    finished_at: datetime
    artefacts: tuple[Artefact, ...]
    facts: Mapping[str, Any] = field(default_factory=dict)
    #: Seconds spent in each phase, and ``total``.
    timings: Mapping[str, float] = field(default_factory=dict)
    errors: tuple[str, ...] = ()

    def artefact(self, role: str) -> Artefact:
        """The first artefact with this role.

        Raises:
            KeyError: no artefact has this role.
        """
        for a in self.artefacts:
            if a.role == role:
                return a
        raise KeyError(role)

    def path(self, role: str) -> Path:
        """The absolute path of the first artefact with this role."""
        return self.folder / self.artefact(role).path

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe summary (this is also the content of ``capture.json``)."""
        return {
            "capture_id": self.capture_id,
            "url": self.url,
            "final_url": self.final_url,
            "folder": str(self.folder),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "artefacts": [a.to_json() for a in self.artefacts],
            "timings": dict(self.timings),
            "errors": list(self.errors),
            "facts": dict(self.facts),
        }


def _iso(t: datetime) -> str:
    """``capture.json``'s time format (a file format: keep it byte for byte): RFC 3339 as
    :meth:`datetime.isoformat` writes it, ``+00:00`` written ``Z``. Capture times are
    aware UTC already (``datetime.now(UTC)``); this only formats them."""
    return t.isoformat().replace("+00:00", "Z")


def summary_bytes(capture: Capture) -> bytes:
    """The bytes of ``capture.json`` (sorted keys, two-space indent, UTF-8, final newline)."""
    data = capture.to_json()
    data.pop("folder", None)
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()
