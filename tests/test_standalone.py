"""The repository stands alone: nothing in it reads a path outside the clone.

A user who clones copyseal has no folder beside it, so every file the code, the tests,
the benchmarks, the Makefile or CI read must be inside the repository. The check scans
the text of those files for the ways a path can climb out of the tree: a ``..`` path
component joined onto a path (``ROOT / ".."``), and ``Path.parents[N]``
with N deeper than the file's own depth below the root.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Folders and files whose text must not reach outside the repository.
CHECKED = ("src", "tests", "benchmarks", "spiders", ".ci", "Makefile", "pyproject.toml")
_SUFFIXES = {".py", ".sh", ".toml", ".yaml", ".yml", ".cfg", ".ini", ""}

#: A path joined with a ``..`` component (``ROOT / ".."``, ``os.path.join(ROOT, "..")``);
#: a ``..`` on its own is hostile test input or a traversal check, not a read.
_DOTDOT_JOIN = re.compile(r"""(?:/\s*|join\([^)]*,\s*)["']\.\.["']""")
_PARENTS = re.compile(r"\.parents\[(\d+)\]")
_SHARED = re.compile(r"\bshared/testvectors|(?<!\.)\.\./shared\b")


def _files() -> list[Path]:
    out: list[Path] = []
    for name in CHECKED:
        p = REPO / name
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            out.extend(
                f
                for f in sorted(p.rglob("*"))
                if f.is_file() and f.suffix in _SUFFIXES and "__pycache__" not in f.parts
            )
    return out


def _problems(path: Path, text: str) -> list[str]:
    depth = len(path.relative_to(REPO).parts) - 1  # folders between the root and the file
    found: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        where = f"{path.relative_to(REPO)}:{n}"
        if _SHARED.search(line):
            found.append(f"{where}: names the shared folder outside the repository")
        for m in _PARENTS.finditer(line):
            # parents[k] of a file at depth d is the root when k == d; deeper is outside.
            if int(m.group(1)) > depth:
                found.append(f"{where}: parents[{m.group(1)}] climbs above the repository")
        if _DOTDOT_JOIN.search(line):
            found.append(f"{where}: joins a '..' path component")
    return found


def test_the_checker_finds_each_way_out() -> None:
    here = REPO / "tests" / "x.py"
    assert _problems(here, 'V = Path(__file__).parents[2] / "v"')
    assert _problems(here, 'V = ROOT / ".." / "shared" / "testvectors"')
    assert _problems(here, "p = os.path.join(ROOT, '..', 'data.json')")
    assert not _problems(here, 'write_bundle(name="../evil")')  # hostile input, not a read
    up = ".." + "/"  # spelt in two parts so that this file holds no such path itself
    assert _problems(here, f'V = "{up}shared/x.json"')
    assert not _problems(here, f'URL = "file:///.{up}shared%20evidence"')  # an ellipsis
    assert not _problems(here, 'V = Path(__file__).parents[1] / "vectors"')
    assert not _problems(REPO / "tests" / "unit" / "x.py", "R = Path(__file__).parents[2]")


def test_no_file_reads_outside_the_repository() -> None:
    files = [f for f in _files() if f != Path(__file__).resolve()]  # this one holds examples
    assert len(files) > 100  # the scan saw the tree
    problems = [p for f in files for p in _problems(f, f.read_text("utf-8", errors="replace"))]
    assert problems == []


def test_the_vectors_are_in_the_repository() -> None:
    vectors = REPO / "tests" / "vectors"
    for name in ("merkle.json", "go-signed-checkpoint.txt", "go-signed-checkpoint.vkey"):
        assert (vectors / name).is_file(), name
    assert "provenance" in (vectors / "README.md").read_text(encoding="utf-8").lower()
