"""Forms and JSON bodies built from a settings model: the target form and API follow
``CrawlTarget`` and ``CrawlSchedule``, so a key added there appears in both."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import Field, create_model

from copyseal.config import CrawlSchedule, CrawlTarget
from copyseal.web import _targets
from copyseal.web._forms import api_fields, form_input, form_values, model_form, read_form


def test_the_target_form_and_api_have_every_key_of_the_models() -> None:
    # Every key but allow_private: only config.yaml and the command line allow private
    # networks (the API still takes the key, to refuse it with that message).
    assert [f.key for f in _targets.TARGET_FIELDS] == [
        k for k in CrawlTarget.model_fields if k != "allow_private"
    ]
    assert [f.name for f in _targets.SCHEDULE_FIELDS] == [
        "cron",
        "revisit_matches",
        "schedule_enabled",
    ]
    schema = _targets.TargetCreate.model_json_schema()
    assert set(schema["properties"]) == {*CrawlTarget.model_fields, "schedule", "version", "name"}
    assert schema["required"] == ["urls", "name"]
    urls = schema["properties"]["urls"]
    assert urls["title"] == CrawlTarget.model_fields["urls"].title == "Start URLs"
    assert urls["description"] == CrawlTarget.model_fields["urls"].description
    cron = _targets.ScheduleIn.model_json_schema()
    assert set(cron["properties"]) == {"cron", "revisit_matches", "enabled"}
    assert cron["required"] == ["cron"]


def test_inputs_follow_the_types_titles_and_defaults() -> None:
    by_key = {f.key: f for f in _targets.TARGET_FIELDS}
    kinds = {k: f.kind for k, f in by_key.items()}
    assert kinds == {
        "urls": "lines",
        "spider": "text",
        "render": "check",
        "allowed_domains": "lines",
        "max_pages": "number",
        "max_depth": "number",
        "obey_robots_txt": "check",
        "robots_override_reason": "text",
    }
    assert [k for k, f in by_key.items() if f.required] == ["urls"]
    assert by_key["urls"].label.startswith("Start URLs (one a line; http or https")
    assert by_key["max_pages"].label == "Max pages (default: the crawl section's)"
    blank = form_values(_targets.TARGET_FIELDS + _targets.SCHEDULE_FIELDS)
    assert blank == {
        "urls": "",
        "spider": "site",
        "render": False,
        "allowed_domains": "",
        "max_pages": "",
        "max_depth": "",
        "obey_robots_txt": True,
        "robots_override_reason": "",
        "cron": "",
        "revisit_matches": False,
        "schedule_enabled": True,
    }
    cron = next(f for f in _targets.SCHEDULE_FIELDS if f.key == "cron")
    assert (cron.required, cron.placeholder) == (False, "0 3 * * *")


def test_a_target_round_trips_through_its_form() -> None:
    target = CrawlTarget(
        urls=["https://a.example/x,y", "https://b.example/"],
        spider="sitemap",
        allowed_domains=["a.example", "b.example"],
        max_depth=0,
        obey_robots_txt=False,
        robots_override_reason="our own site",
    )
    shown = form_values(_targets.TARGET_FIELDS, target)
    assert shown["urls"] == "https://a.example/x,y\nhttps://b.example/"
    assert (shown["max_depth"], shown["max_pages"]) == ("0", "")
    submitted = {k: "1" if v is True else v for k, v in shown.items() if v is not False}
    values = read_form(_targets.TARGET_FIELDS, submitted)
    assert CrawlTarget.model_validate(form_input(_targets.TARGET_FIELDS, values)) == target


def test_empty_texts_mean_none_or_the_default() -> None:
    form = {
        "urls": " https://a.example/ \n\n",
        "spider": " ",
        "max_pages": "",
        "obey_robots_txt": "1",
        "cron": "",
    }
    fields = _targets.TARGET_FIELDS + _targets.SCHEDULE_FIELDS
    values = read_form(fields, form)
    assert values["render"] is False and values["schedule_enabled"] is False
    target = form_input(_targets.TARGET_FIELDS, values)
    assert target["urls"] == ["https://a.example/"]
    assert "spider" not in target  # left empty: the model's default applies
    assert target["max_pages"] is None and target["robots_override_reason"] is None
    assert CrawlTarget.model_validate(target).spider == "site"
    schedule = form_input(_targets.SCHEDULE_FIELDS, values)
    assert schedule == {"cron": None, "revisit_matches": False, "enabled": False}


def test_a_key_added_to_a_model_is_in_its_form_and_body() -> None:
    class Extended(CrawlTarget):
        delay: float | None = Field(default=None, title="Delay", description="seconds")

    fields = model_form(Extended)
    delay = fields[-1]
    assert (delay.key, delay.kind, delay.label) == ("delay", "number", "Delay (seconds)")
    given = form_input(fields, {"urls": "https://a.example/", "delay": "2.5"})
    assert Extended.model_validate(given).delay == 2.5
    body: Any = create_model("Body", **api_fields(Extended))
    schema = body.model_json_schema()["properties"]["delay"]
    assert (schema["title"], schema["description"]) == ("Delay", "seconds")


def test_api_bodies_leave_constraints_to_the_library() -> None:
    # A value of the right type passes the body, so the library's validation names the key.
    body: Any = create_model("Body", **api_fields(CrawlTarget))
    assert body.model_validate({"urls": [], "max_pages": 0}).max_pages == 0
    with pytest.raises(ValueError, match="max_pages"):
        CrawlTarget.model_validate({"urls": ["https://a.example/"], "max_pages": 0})
    assert CrawlSchedule.model_fields["enabled"].default is True


def test_domains_split_on_commas_and_urls_do_not() -> None:
    by_key = {f.key: f for f in _targets.TARGET_FIELDS}
    assert by_key["allowed_domains"].parsed("a.example, b.example\nc.example") == [
        "a.example",
        "b.example",
        "c.example",
    ]
    url = "https://shop.example/p?ids=1,2"  # a comma is part of a URL
    assert by_key["urls"].parsed(url + "\nhttps://b.example/") == [url, "https://b.example/"]
