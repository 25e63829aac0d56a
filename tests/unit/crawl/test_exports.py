from __future__ import annotations

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
