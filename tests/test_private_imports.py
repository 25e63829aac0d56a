"""A package's private modules (``_name``) are imported only inside that package.

``copyseal.crawl._store`` may be imported by ``copyseal.crawl`` and its sub-packages, never
by ``copyseal.review``; what other packages need is public (``copyseal.crawl`` re-exports
it, or the module drops its underscore). The root package's private modules
(``copyseal._cron``, ``copyseal._logging``, ...) are private to ``copyseal`` and so open
to every sub-package. Every ``import`` statement counts, at module level or inside a
function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "copyseal"


def _module_name(path: Path) -> tuple[str, str]:
    """``(module, package it lives in)`` of a source file."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def _imported(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    """The dotted names an import statement reaches (modules, and names from them, which
    may be sub-modules)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    if private_owner(module) is not None:
        return [module]  # one finding for the statement, not one per name
    return [f"{module}.{alias.name}" for alias in node.names]


def private_owner(name: str) -> str | None:
    """The package a dotted name is private to (the parent of its first ``_name`` part),
    or None when every part is public."""
    parts = name.split(".")
    for i, part in enumerate(parts[1:], start=1):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def violations(path: Path) -> list[str]:
    """``file:line: module imports name (private to package)`` for each offending import."""
    module, package = _module_name(path)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        for name in _imported(node, package):
            owner = private_owner(name)
            if not name.startswith("copyseal.") or owner is None:
                continue
            if package == owner or package.startswith(owner + "."):
                continue
            rel = path.relative_to(SRC.parent)
            found.append(f"{rel}:{node.lineno}: {module} imports {name} (private to {owner})")
    return found


def test_private_modules_are_imported_only_inside_their_package() -> None:
    found = [v for path in sorted(PACKAGE.rglob("*.py")) for v in violations(path)]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    ("source", "file", "bad"),
    [
        ("from copyseal.crawl._store import JobStore", "review/queue.py", True),
        ("from copyseal.crawl import _store", "review/queue.py", True),
        ("import copyseal.crawl._store", "export/package.py", True),
        ("from copyseal.crawl._store import JobStore", "crawl/_jobs.py", False),
        ("from copyseal.crawl._store import JobStore", "crawl/sub/x.py", False),
        ("from copyseal.crawl import JobStore", "review/queue.py", False),
        ("from copyseal._cron import parse_cron", "crawl/_schedule.py", False),
        ("from .._store import JobStore", "crawl/sub/x.py", False),
        ("from ..crawl._store import JobStore", "review/queue.py", True),
        ("from copyseal.crawl import jobs, _store", "review/queue.py", True),
    ],
)
def test_the_check_tells_inside_from_outside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, file: str, bad: bool
) -> None:
    monkeypatch.setattr(f"{__name__}.SRC", tmp_path)
    path = tmp_path / "copyseal" / file
    path.parent.mkdir(parents=True)
    path.write_text(source + "\n", encoding="utf-8")
    assert bool(violations(path)) is bad
