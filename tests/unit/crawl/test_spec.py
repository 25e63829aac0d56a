from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from copyseal.config import load_settings
from copyseal.crawl import JobSpec, spec_for
from copyseal.errors import ConfigError, CrawlError


def settings(tmp_path: Path, text: str = "") -> object:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, env={})


TARGET = """crawl:
  max_pages: 50
  targets:
    shop:
      urls: [https://www.shop.example/, https://img.shop.example/gallery]
      render: true
      max_depth: 2
"""


def test_urls_take_the_crawl_defaults_and_their_domains(tmp_path: Path) -> None:
    spec = spec_for(settings(tmp_path), ("https://www.a.example/x", "https://b.example/"))  # type: ignore[arg-type]
    assert spec.target == "cli" and spec.spider == "site" and not spec.render
    assert spec.allowed_domains == ("a.example", "b.example")
    assert (spec.max_pages, spec.max_depth, spec.obey_robots_txt) == (1000, 5, True)


def test_a_target_and_flag_overrides(tmp_path: Path) -> None:
    s = settings(tmp_path, TARGET)
    spec = spec_for(s, ("shop",))  # type: ignore[arg-type]
    assert (spec.target, spec.render, spec.max_pages, spec.max_depth) == ("shop", True, 50, 2)
    assert spec.allowed_domains == ("shop.example", "img.shop.example")
    flagged = spec_for(s, ("shop",), render=False, max_pages=3, max_depth=0)  # type: ignore[arg-type]
    assert (flagged.render, flagged.max_pages, flagged.max_depth) == (False, 3, 0)


def test_robots_override_is_explicit_and_recorded(tmp_path: Path) -> None:
    spec = spec_for(
        settings(tmp_path),
        ("https://a.example/",),  # type: ignore[arg-type]
        robots_override_reason="our own site",
    )
    assert (spec.obey_robots_txt, spec.robots_override_reason) == (False, "our own site")
    with pytest.raises(CrawlError, match="no reason is given"):
        spec_for(settings(tmp_path, "crawl:\n  obey_robots_txt: false\n"), ("https://a.example/",))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs robots_override_reason"):
        settings(
            tmp_path,
            "crawl:\n  targets:\n    t:\n      urls: [https://a/]\n      obey_robots_txt: false\n",
        )


def test_unknown_targets_and_mixtures_are_errors(tmp_path: Path) -> None:
    s = settings(tmp_path, TARGET)
    with pytest.raises(CrawlError, match="neither a URL nor a configured target \\(shop\\)"):
        spec_for(s, ("nope",))  # type: ignore[arg-type]
    with pytest.raises(CrawlError, match="not both"):
        spec_for(s, ("shop", "https://x.example/"))  # type: ignore[arg-type]
    assert spec_for(s, ("urls.txt",), spider="urls").urls == ("urls.txt",)  # type: ignore[arg-type]


def test_spec_round_trips() -> None:
    spec = JobSpec(
        target="t",
        urls=("https://a/",),
        render=True,
        allowed_domains=("a",),
        obey_robots_txt=False,
        robots_override_reason="mine",
    )
    assert JobSpec.loads(spec.dumps()) == spec
    with pytest.raises(CrawlError, match="at least one URL"):
        JobSpec(target="t", urls=())


def test_allowed_networks_are_kept_with_the_job_and_joined_with_the_config(
    tmp_path: Path,
) -> None:
    s: Any = settings(tmp_path, "crawl:\n  allow_networks: ['10.20.0.0/16']\n")
    spec = spec_for(s, ("http://127.0.0.2/",), allow_networks=("127.0.0.2/32",))
    again = JobSpec.loads(spec.dumps())
    assert again == spec and again.allow_networks == ("127.0.0.2/32",)
    policy = again.policy(s)
    assert [str(n) for n in policy.allow_networks] == ["10.20.0.0/16", "127.0.0.2/32"]
    # A job stored before allow_networks existed still loads.
    old = spec.to_json()
    del old["allow_networks"]
    assert JobSpec.loads(json.dumps(old)).allow_networks == ()
    with pytest.raises(ConfigError, match=r"--allow-network: '127\.0\.0\.300' is not"):
        spec_for(s, ("http://127.0.0.2/",), allow_networks=("127.0.0.300",))


def test_an_invalid_configured_network_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"crawl.allow_networks.*'10\.0\.0\.1/8'"):
        settings(tmp_path, "crawl:\n  allow_networks: ['10.0.0.1/8']\n")
