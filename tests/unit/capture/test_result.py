"""The capture value types and the package's public names."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

import copyseal.capture
from copyseal.capture import Artefact, Box, Capture, Target


def test_public_names_are_pinned() -> None:
    assert sorted(copyseal.capture.__all__) == sorted(
        [
            "LAYOUT",
            "Artefact",
            "Box",
            "BrowserSession",
            "Capture",
            "CaptureOptions",
            "Target",
            "capture_page",
            "capture_page_sync",
            "in_thread",
        ]
    )


def test_target_needs_a_url_or_a_box() -> None:
    with pytest.raises(ValueError, match="url or a box"):
        Target()
    assert Target(box=Box(x=1, y=2, width=3, height=4)).url is None


def _capture() -> Capture:
    art = Artefact(path="a.png", sha256="00" * 32, size=3, media_type="image/png", role="closeup")
    t = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return Capture(
        capture_id="id",
        url="http://a/",
        final_url="http://a/b",
        folder=Path("/x/id"),
        started_at=t,
        finished_at=t,
        artefacts=(art,),
        facts={"page": {}},
        timings={"total": 1.0},
        errors=("note",),
    )


def test_capture_is_frozen_and_serialises() -> None:
    c = _capture()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.url = "other"  # type: ignore[misc]
    data = c.to_json()
    assert data["started_at"] == "2026-01-02T03:04:05Z"
    assert data["artefacts"][0]["role"] == "closeup"
    assert data["errors"] == ["note"] and data["folder"] == "/x/id"
    assert c.path("closeup") == Path("/x/id/a.png")
    with pytest.raises(KeyError):
        c.artefact("wacz")


def test_constructors_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        Box(1, 2, 3, 4)  # type: ignore[misc]
