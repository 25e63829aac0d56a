"""The pipeline's public face, and the borders it keeps: ``bundle`` holds formats only,
and the command line decides nothing about sealing."""

from __future__ import annotations

import ast
from pathlib import Path

import copyseal.pipeline

SRC = Path(__file__).resolve().parents[3] / "src" / "copyseal"

#: What a format package may not import: databases, browsers, crawling, the workspace.
_NOT_FORMATS = (
    "copyseal.capture",
    "copyseal.crawl",
    "copyseal.db",
    "copyseal.match",
    "copyseal.pipeline",
    "copyseal.registry",
    "copyseal.workspace",
    "playwright",
    "scrapy",
    "sqlalchemy",
)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_exports() -> None:
    assert copyseal.pipeline.__all__ == [
        "ChildLaunch",
        "FoundImage",
        "PipelineResult",
        "ProcessJobRunner",
        "ScheduledCrawls",
        "SealOutcome",
        "Worker",
        "anchor_if_due",
        "capture_and_seal",
        "capture_options",
        "resume",
        "revisit_pages",
        "run_crawl",
        "seal_capture",
        "seal_page",
        "seal_pending",
        "seals_after_crawl",
    ]
    for name in copyseal.pipeline.__all__:
        assert getattr(copyseal.pipeline, name).__doc__, f"{name} needs a docstring"


def test_bundle_holds_formats_only() -> None:
    files = sorted((SRC / "bundle").glob("*.py"))
    assert files
    for path in files:
        bad = {
            m for m in _imports(path) if any(m == p or m.startswith(p + ".") for p in _NOT_FORMATS)
        }
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_command_line_leaves_sealing_to_the_pipeline() -> None:
    for path in sorted((SRC / "cli").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        attributes = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        assert "on_match" not in attributes, f"{path.name} decides capture on match"
        assert not {"seal_page", "BrowserSession", "subprocess"} & (names | attributes), path.name
