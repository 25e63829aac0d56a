"""Every matcher passes the seam's conformance kit; one choice reaches every caller."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from copyseal.config import MatchSettings
from copyseal.crawl._settings import DEFAULT_MATCHER
from copyseal.errors import ConfigError
from copyseal.registry import MATCHERS, WorkspaceMatcher, build_matcher
from copyseal.workspace import Workspace

from .matcher_conformance import CHECKS


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("name", sorted(MATCHERS))
def test_conformance(
    name: str,
    check: str,
    workspace: Workspace,
    photo_files: dict[str, Path],
    photos: dict[str, np.ndarray],
) -> None:
    CHECKS[check](MATCHERS[name], workspace, photo_files, photos)


def test_the_kit_fails_a_matcher_that_finds_nothing(
    workspace: Workspace, photo_files: dict[str, Path], photos: dict[str, np.ndarray]
) -> None:
    """A matcher that never finds anything is caught (so the kit can fail)."""

    class Blind:
        def __init__(self, inner: Any) -> None:
            self.decode, self.match_image = inner.decode, inner.match_image

        def match(self, data: bytes, *, name: str = "") -> list[Any]:
            self.decode(data, name=name)
            return []

    def blind(engine: Any, settings: Any, *, use_cache: bool = True) -> Blind:
        return Blind(MATCHERS["workspace"](engine, settings, use_cache=use_cache))

    with pytest.raises(AssertionError):
        CHECKS["an_edited_copy_is_found"](blind, workspace, photo_files, photos)


def test_config_names_every_matcher() -> None:
    annotation = MatchSettings.model_fields["matcher"].annotation
    assert set(typing.get_args(annotation)) == set(MATCHERS)
    assert MatchSettings().matcher in MATCHERS


def test_one_choice_reaches_every_caller(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``build_matcher`` builds what ``match.matcher`` names, and it is the crawl's default
    factory (sealing and ``copyseal match`` call it directly)."""
    from scrapy.utils.misc import load_object

    assert load_object(DEFAULT_MATCHER) is build_matcher
    assert isinstance(build_matcher(workspace.engine, workspace.settings), WorkspaceMatcher)
    made: list[bool] = []

    def other(engine: Any, settings: Any, *, use_cache: bool = True) -> str:
        made.append(use_cache)
        return "the other matcher"

    monkeypatch.setitem(MATCHERS, "workspace", other)  # type: ignore[index]
    assert build_matcher(workspace.engine, workspace.settings, use_cache=False) == (
        "the other matcher"
    )
    assert made == [False]


def test_an_unknown_matcher_is_a_config_error(workspace: Workspace) -> None:
    settings = workspace.settings.model_copy(
        update={"match": workspace.settings.match.model_copy(update={"matcher": "remote"})}
    )
    with pytest.raises(ConfigError, match=r"match\.matcher: unknown matcher 'remote'"):
        build_matcher(workspace.engine, settings)
