"""Fixtures of the pipeline tests: a small gallery served on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest
from pipeline_bench import jpeg

from integration.crawl_site import Site, serve


@pytest.fixture(scope="module")
def gallery(photos: dict[str, np.ndarray]) -> Iterator[tuple[Site, dict[str, bytes]]]:
    """Two pages with exact copies of two registered works, one page with a stranger;
    returns the site and the works to register (name -> JPEG bytes)."""
    works = {"astronaut": jpeg(photos["astronaut"]), "coffee": jpeg(photos["coffee"])}
    site = Site()
    site.add(
        "/",
        "<html><head><title>Gallery</title></head><body><img src='/img/astronaut.jpg'>"
        "<a href='/more.html'>more</a> <a href='/plain.html'>plain</a></body></html>",
    )
    site.add("/more.html", "<html><body><img src='/img/coffee.jpg' width='400'></body></html>")
    site.add("/plain.html", "<html><body><img src='/img/cat.jpg'></body></html>")
    site.add("/img/astronaut.jpg", works["astronaut"], "image/jpeg")
    site.add("/img/coffee.jpg", works["coffee"], "image/jpeg")
    site.add("/img/cat.jpg", jpeg(photos["chelsea"]), "image/jpeg")
    stop = serve(site)
    yield site, works
    stop()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Child processes inherit the environment: no stray COPYSEAL_* settings."""
    for key in list(os.environ):
        if key.startswith("COPYSEAL_"):
            monkeypatch.delenv(key)
