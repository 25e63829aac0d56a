"""Crawl targets kept in the database: validation, history, one namespace with config.yaml,
and every consumer (``copyseal crawl NAME``, schedules, the scheduler) sees them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from copyseal.config import CrawlSchedule, CrawlTarget, Settings
from copyseal.crawl import (
    RunOutcome,
    Scheduler,
    effective_settings,
    get_target,
    known_spiders,
    list_targets,
    remove_target,
    save_target,
    schedule_states,
    spec_for,
    target_events,
    target_jobs,
)
from copyseal.db.schema.crawl import AppTarget, ScheduleRun
from copyseal.errors import CrawlError
from copyseal.workspace import Workspace


@dataclass
class FakeRunner:
    """Stands in for the child crawl process: records the jobs it was asked to run."""

    calls: list[str] = field(default_factory=list)

    def __call__(self, job_id: str) -> RunOutcome:
        self.calls.append(job_id)
        return RunOutcome(status="finished")


def runs(ws: Workspace) -> list[tuple[str, str]]:
    with ws.engine.connect() as conn:
        rows = conn.execute(select(ScheduleRun.schedule, ScheduleRun.status)).all()
    return [(n, s) for n, s in rows]


SITE = {"urls": ["http://127.0.0.1:9/shop/"], "max_pages": 7}


@pytest.fixture
def ws(workspace_settings: Settings) -> Iterator[Workspace]:
    """A workspace (SQLite and PostgreSQL) with one target and one schedule in config."""
    crawl = workspace_settings.crawl.model_copy(
        update={
            "targets": {"configured": CrawlTarget(urls=["https://shop.example/"])},
            "schedules": {"nightly": CrawlSchedule(target="configured", cron="0 1 * * *")},
        }
    )
    w = Workspace.open(workspace_settings.model_copy(update={"crawl": crawl}))
    yield w
    w.close()


def _add(ws: Workspace, name: str = "shop", **kw: Any) -> Any:
    return save_target(ws, name=name, fields=SITE, actor="alice", create=True, **kw)


def test_a_target_is_added_listed_and_resolved_like_a_configured_one(ws: Workspace) -> None:
    info = _add(ws)
    assert (info.source, info.version, info.created_by) == ("app", 1, "alice")
    assert info.target.urls == ["http://127.0.0.1:9/shop/"] and info.target.max_pages == 7
    assert [(t.name, t.source) for t in list_targets(ws)] == [
        ("configured", "config"),
        ("shop", "app"),
    ]
    config_one = get_target(ws, "configured").to_json()
    assert config_one["schedule"]["name"] == "nightly" and not config_one["editable"]
    # `copyseal crawl shop` resolves it through the effective settings.
    spec = spec_for(effective_settings(ws), ("shop",))
    assert (spec.target, spec.urls, spec.max_pages, spec.allow_private) == (
        "shop",
        ("http://127.0.0.1:9/shop/",),
        7,
        False,
    )
    # Only the command line (or config.yaml) may aim a crawl at private networks.
    assert spec_for(effective_settings(ws), ("shop",), allow_private=True).allow_private
    with pytest.raises(CrawlError, match="neither a URL nor a configured target"):
        spec_for(ws.settings, ("shop",))  # the file's settings alone do not know it


@pytest.mark.parametrize(
    ("name", "fields", "cron", "message"),
    [
        ("bad name", SITE, None, "target name 'bad name'"),
        ("new", SITE, None, "not 'new'"),
        ("configured", SITE, None, "configured in config.yaml"),
        ("nightly", SITE, None, "configured in config.yaml"),
        ("x", {**SITE, "urls": ["/etc/passwd"]}, None, "'/etc/passwd' is not an http"),
        ("x", {**SITE, "urls": ["file:///etc/passwd"]}, None, "is not an http"),
        ("x", {**SITE, "urls": []}, None, "urls: List should have at least 1 item"),
        ("x", {**SITE, "spider": "nope"}, None, "unknown spider 'nope'"),
        ("x", {**SITE, "max_pages": "many"}, None, "max_pages: Input should be a valid integer"),
        ("x", {**SITE, "obey_robots_txt": False}, None, "needs robots_override_reason"),
        ("x", {**SITE, "colour": "red"}, None, "colour: Extra inputs are not permitted"),
        ("x", SITE, "every day", "cron 'every day'"),
        ("x", {**SITE, "allow_private": True}, None, "allow_private cannot be set here"),
    ],
)
def test_bad_targets_are_refused_naming_the_field(
    ws: Workspace, name: str, fields: dict[str, Any], cron: str | None, message: str
) -> None:
    with pytest.raises(CrawlError, match=message.replace("(", r"\(").replace(")", r"\)")):
        save_target(ws, name=name, fields=fields, actor="alice", create=True, cron=cron)
    assert [t.name for t in list_targets(ws)] == ["configured"]
    assert target_events(ws) == []


def test_a_stored_allow_private_is_ignored_with_a_warning(
    ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    # A row saved before web-app targets were forbidden to allow private networks.
    _add(ws)
    with ws.engine.begin() as conn:
        conn.execute(
            update(AppTarget)
            .where(AppTarget.name == "shop")
            .values(definition=json.dumps({**SITE, "allow_private": True}))
        )
    with caplog.at_level("WARNING", logger="copyseal.crawl._targets"):
        spec = spec_for(effective_settings(ws), ("shop",))
    assert spec.allow_private is False
    assert "'shop': allow_private in the database is ignored" in caplog.text


def test_changes_are_versioned_and_recorded(ws: Workspace) -> None:
    _add(ws)
    with pytest.raises(CrawlError, match="exists already"):
        _add(ws)
    changed = save_target(
        ws,
        name="shop",
        fields={**SITE, "render": True},
        actor="bob",
        cron="30 4 * * 1",
        create=False,
        expected_version=1,
    )
    assert (changed.version, changed.updated_by, changed.created_by) == (2, "bob", "alice")
    assert changed.target.render and changed.schedule is not None
    assert changed.schedule.cron == "30 4 * * 1"
    # A form opened before bob's change is refused rather than silently overwriting it.
    with pytest.raises(CrawlError, match="changed by bob since"):
        save_target(ws, name="shop", fields=SITE, actor="carol", create=False, expected_version=1)
    with pytest.raises(CrawlError, match="no crawl target 'ghost'"):
        save_target(ws, name="ghost", fields=SITE, actor="bob", create=False)
    remove_target(ws, name="shop", actor="carol")
    with pytest.raises(CrawlError, match="no crawl target 'shop'"):
        get_target(ws, "shop")
    with pytest.raises(CrawlError, match="remove it there"):
        remove_target(ws, name="configured", actor="carol")
    events = [e.to_json() for e in target_events(ws, "shop")]
    assert [(e["action"], e["actor"]) for e in events] == [
        ("removed", "carol"),
        ("updated", "bob"),
        ("created", "alice"),
    ]
    assert events[1]["definition"]["target"]["render"] is True
    assert events[1]["definition"]["schedule"]["cron"] == "30 4 * * 1"
    assert events[0]["definition"]["version"] == 2  # what was removed


def test_a_database_schedule_is_listed_and_run_by_the_scheduler(ws: Workspace) -> None:
    _add(ws, cron="0 3 * * *")
    states = {s.name: s for s in schedule_states(ws)}
    assert set(states) == {"nightly", "shop"}
    assert states["shop"].target == "shop" and states["shop"].cron == "0 3 * * *"

    runner = FakeRunner()
    clock = lambda: datetime(2026, 5, 10, 12, tzinfo=UTC)  # noqa: E731
    handled = Scheduler(ws, runner=runner, clock=clock).tick()
    by_schedule = {r.schedule: r for r in handled}
    assert set(by_schedule) == {"nightly", "shop"}
    shop_job = by_schedule["shop"].job_id
    assert shop_job is not None and shop_job in runner.calls
    assert [j["job_id"] for j in target_jobs(ws, "shop")] == [shop_job]
    # Disabling the schedule in the app stops further runs at the next tick.
    save_target(
        ws,
        name="shop",
        fields=SITE,
        actor="bob",
        cron="0 3 * * *",
        schedule_enabled=False,
        create=False,
    )
    later = lambda: datetime(2026, 5, 11, 12, tzinfo=UTC)  # noqa: E731
    again = Scheduler(ws, runner=FakeRunner(), clock=later).tick()
    assert [r.schedule for r in again] == ["nightly"]
    assert len([r for r in runs(ws) if r[1] != "missed"]) == 3


def test_known_spiders_include_the_site_specific_ones(ws: Workspace) -> None:
    names = known_spiders(ws.settings)
    assert {"site", "sitemap", "urls"} <= set(names)
    assert "example-shop" in names  # spiders/example_shop.py of the checkout
    info = save_target(
        ws, name="shop2", fields={**SITE, "spider": "example-shop"}, actor="a", create=True
    )
    assert info.target.spider == "example-shop"
