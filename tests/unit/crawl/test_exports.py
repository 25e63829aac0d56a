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
        "StorePipeline",
        "classify_page",
        "crawl_summary",
        "extract_html",
        "list_jobs",
        "list_matches",
        "resume_crawl",
        "spec_for",
        "start_crawl",
    ]
    for name in copyseal.crawl.__all__:
        assert getattr(copyseal.crawl, name) is not None
