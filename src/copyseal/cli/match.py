"""``copyseal match``: which registered works does an image show?"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from copyseal.cli._common import App, emit, json_option, pass_app
from copyseal.errors import CopysealError
from copyseal.files import publish_bytes
from copyseal.match import Match, render_overlay
from copyseal.match.rights import RightsMetadata, compare, read_rights
from copyseal.registry import build_matcher, list_works, original_path


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--overlay",
    "overlay_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write an overlay PNG per match (work and image side by side, region outlined).",
)
@json_option
@pass_app
def match(app: App, images: tuple[Path, ...], overlay_dir: Path | None, as_json: bool) -> None:
    """Find registered works in IMAGES (edited copies too).

    Prints one result per image: its matches, best first, each with the score and how it
    was matched (hash distance, inliers, transform, the region of the image showing the
    work). An unreadable image gets an error and the rest goes on (exit code 1).
    """
    ws = app.workspace()
    matcher = build_matcher(ws.engine, ws.settings)
    works = {w.work_id: w for w in list_works(ws)}
    results: list[dict[str, Any]] = []
    for path in images:
        try:
            data = path.read_bytes()
        except OSError as e:
            results.append({"query": str(path), "error": f"cannot read: {e.strerror}"})
            continue
        try:
            found = matcher.match(data, name=str(path))
        except CopysealError as e:
            results.append({"query": str(path), "error": str(e).removeprefix(f"{path}: ")})
            continue
        items = []
        found_rights = read_rights(data) if found else None
        for i, m in enumerate(found):
            item = m.to_json()
            work = works.get(m.work_id)
            item["title"] = work.title if work else None
            item["owner"] = work.owner if work else None
            # Rights metadata kept, altered or removed (None: not read at registration).
            item["rights_metadata"] = (
                compare(RightsMetadata.from_json(work.rights_metadata), found_rights)
                if work is not None
                and work.rights_metadata is not None
                and found_rights is not None
                else None
            )
            # Perceptual matches only: an exact copy is the whole image, nothing to draw.
            if overlay_dir is not None and work is not None and isinstance(m, Match):
                overlay_dir.mkdir(parents=True, exist_ok=True)
                out = overlay_dir / f"{path.stem}-{i + 1}-{m.work_id}.png"
                original = original_path(ws, work.sha256).read_bytes()
                work_image = matcher.decode(original)
                overlay = render_overlay(work_image, matcher.decode(data), m)
                publish_bytes(out, overlay, overwrite=True)
                item["overlay"] = str(out)
            items.append(item)
        results.append({"query": str(path), "matches": items})

    def human(console: Console) -> None:
        table = Table(title="matches")
        for column in ("image", "work id", "title", "score", "method", "transform"):
            table.add_column(column)
        for r in results:
            if "error" in r:
                table.add_row(r["query"], "[red]error[/red]", r["error"], "", "", "")
            elif not r["matches"]:
                table.add_row(r["query"], "-", "no match", "", "", "")
            for m in r.get("matches", []):
                t = m["transform"]
                shape = f"x{t['scale']:.2f} {t['rotation_deg']:.0f}°" + (
                    " mirrored" if t["mirrored"] else ""
                )
                table.add_row(
                    r["query"],
                    m["work_id"],
                    m["title"] or "",
                    f"{m['score']:.3f}",
                    m["method"],
                    shape,
                )
        console.print(table)

    emit(app, results, as_json=as_json, human=human)
    if any("error" in r for r in results):
        raise click.exceptions.Exit(1)
