from __future__ import annotations

import pytest

import copyseal.crawl


def test_public_names_are_pinned() -> None:
    assert sorted(copyseal.crawl.__all__) == [
        "CopysealSpider",
        "CrawlSummary",
        "FrontierEntry",
        "ImageRef",
        "JobSpec",
        "MatchPipeline",
        "MatchRecord",
        "PageExtract",
        "PageVerdict",
        "RunOutcome",
        "RunRecord",
        "ScheduleState",
        "Scheduler",
        "StorePipeline",
        "TargetEventRecord",
        "TargetInfo",
        "classify_page",
        "crawl_summary",
        "effective_settings",
        "enqueue_crawl",
        "extract_html",
        "get_target",
        "job_policy",
        "known_spiders",
        "list_jobs",
        "list_matches",
        "list_targets",
        "next_run",
        "plan_catch_up",
        "remove_target",
        "resume_crawl",
        "save_target",
        "schedule_states",
        "spec_for",
        "start_crawl",
        "target_events",
        "target_jobs",
    ]
    for name in copyseal.crawl.__all__:
        assert getattr(copyseal.crawl, name) is not None


def test_the_package_imports_each_name_from_its_module_when_first_used() -> None:
    """``copyseal.crawl`` is lazy (PEP 562): its table names exactly the public names, each
    the object of its module, and an unknown name is an AttributeError as usual."""
    import importlib

    homes = copyseal.crawl._HOMES
    assert sorted(homes) == sorted(copyseal.crawl.__all__)
    for name, home in homes.items():
        module = importlib.import_module(home)
        assert getattr(copyseal.crawl, name) is getattr(module, name)
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = copyseal.crawl.nothing_here
    assert "list_jobs" in dir(copyseal.crawl)
