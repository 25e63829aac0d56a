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
        "classify_page",
        "crawl_summary",
        "extract_html",
        "list_jobs",
        "list_matches",
        "next_run",
        "plan_catch_up",
        "resume_crawl",
        "schedule_states",
        "spec_for",
        "start_crawl",
    ]
    for name in copyseal.crawl.__all__:
        assert getattr(copyseal.crawl, name) is not None
