"""``copyseal crawl``, ``copyseal crawls`` and ``copyseal matches``."""

from __future__ import annotations

from collections.abc import Callable

import click
from rich.console import Console
from rich.table import Table

from copyseal.bundle.seal import SealOutcome, seal_job
from copyseal.cli._common import App, emit, json_option, pass_app
from copyseal.crawl import (
    CrawlSummary,
    MatchRecord,
    crawl_summary,
    list_jobs,
    list_matches,
    resume_crawl,
    spec_for,
    start_crawl,
)


def _summary_human(s: CrawlSummary, sealed: list[SealOutcome]) -> Callable[[Console], None]:
    def human(console: Console) -> None:
        data = s.to_json()
        console.print(
            f"crawl {s.job_id} [{s.status}]: {data['pages']} page(s), {data['images']} image(s),"
            f" {data['match_count']} match(es)"
        )
        console.print(f"  pages: {data['page_status']}  images: {data['image_status']}")
        if s.robots_override:
            console.print(f"  robots.txt not obeyed: {s.robots_override}")
        if s.matches:
            console.print(_matches_table(list(s.matches)))
        for o in sealed:
            if o.bundle is not None:
                console.print(f"  [green]sealed[/green] {o.page_url} -> {o.bundle.path}")
            else:
                console.print(f"  [red]not captured[/red] {o.page_url}: {o.error}")

    return human


def _matches_table(matches: list[MatchRecord]) -> Table:
    table = Table(title=f"{len(matches)} match(es)")
    for column in ("work id", "score", "page", "image", "shown as", "bundle"):
        table.add_column(column, overflow="fold")
    for m in matches:
        table.add_row(
            m.work_id,
            f"{m.score:.3f}",
            m.page_url,
            m.image_url,
            ", ".join(m.location.get("kinds", [])),
            m.bundle_id or "",
        )
    return table


@click.command()
@click.argument("targets", nargs=-1)
@click.option(
    "--spider",
    help="site (follow links, default), sitemap, urls (files of URLs) or a custom spider.",
)
@click.option("--render/--no-render", default=None, help="Render pages in Chromium.")
@click.option("--max-pages", type=click.IntRange(min=1), help="Fetch at most N pages.")
@click.option("--depth", "max_depth", type=click.IntRange(min=0), help="Follow links N deep.")
@click.option(
    "--allow-private",
    is_flag=True,
    default=None,
    help="Allow private/loopback addresses (local test sites only).",
)
@click.option(
    "--ignore-robots",
    "robots_reason",
    metavar="REASON",
    help="Do not obey robots.txt; REASON is recorded with the job.",
)
@click.option("--resume", "resume_job", metavar="JOB", help="Resume an interrupted crawl job.")
@click.option("--progress/--no-progress", default=True, help="Progress line on stderr.")
@click.option(
    "--capture/--no-capture",
    "seal",
    default=None,
    help="Capture and seal each page with a match as an evidence bundle"
    " (default: capture.on_match).",
)
@json_option
@pass_app
def crawl(
    app: App,
    targets: tuple[str, ...],
    spider: str | None,
    render: bool | None,
    max_pages: int | None,
    max_depth: int | None,
    allow_private: bool | None,
    robots_reason: str | None,
    resume_job: str | None,
    progress: bool,
    seal: bool | None,
    as_json: bool,
) -> None:
    """Crawl a configured TARGET, or URLs, and match every image found.

    \b
    copyseal crawl https://shop.example/            follow links on the site
    copyseal crawl suspect-shop                      a target from config.yaml
    copyseal crawl urls.txt --spider urls            pages listed in a file
    copyseal crawl --resume JOB                      continue a killed crawl
    """
    ws = app.workspace()
    if resume_job:
        if targets:
            raise click.UsageError("--resume takes no TARGET")
        # A finished job may still have matches to seal (killed while sealing, or crawled
        # with --no-capture): resuming it seals them.
        will_seal = seal if seal is not None else app.settings().capture.on_match
        summary = resume_crawl(ws, resume_job, progress=progress, allow_finished=will_seal)
    else:
        if not targets:
            raise click.UsageError("give a TARGET, URLs, or --resume JOB")
        spec = spec_for(
            app.settings(),
            targets,
            spider=spider,
            render=render,
            max_pages=max_pages,
            max_depth=max_depth,
            allow_private=allow_private,
            robots_override_reason=robots_reason,
        )
        summary = start_crawl(ws, spec, progress=progress)
    sealed: list[SealOutcome] = []
    if seal if seal is not None else app.settings().capture.on_match:
        # Pages change: each page with a match is captured now, before any review.
        sealed = seal_job(ws, summary.job_id)
        if sealed:
            summary = crawl_summary(ws, summary.job_id)
    data = summary.to_json()
    data["sealed"] = [o.to_json() for o in sealed]
    emit(app, data, as_json=as_json, human=_summary_human(summary, sealed))


@click.command()
@json_option
@pass_app
def crawls(app: App, as_json: bool) -> None:
    """List crawl jobs with their status and counts."""
    jobs = list_jobs(app.workspace())

    def human(console: Console) -> None:
        table = Table(title=f"{len(jobs)} crawl job(s)")
        for column in ("job", "status", "target", "spider", "render", "pages", "images", "matches"):
            table.add_column(column)
        for j in jobs:
            d = j.to_json()
            table.add_row(
                j.job_id,
                j.status,
                j.target,
                j.spider,
                "yes" if j.render else "no",
                str(d["pages"]),
                str(d["images"]),
                str(d["match_count"]),
            )
        console.print(table)

    emit(app, [_listing(j) for j in jobs], as_json=as_json, human=human)


def _listing(j: CrawlSummary) -> dict[str, object]:
    data = j.to_json()
    data.pop("matches")
    return data


@click.command()
@click.option("--job", "job_id", metavar="JOB", help="Only this crawl job's matches.")
@json_option
@pass_app
def matches(app: App, job_id: str | None, as_json: bool) -> None:
    """List stored matches: registered works found on crawled pages."""
    records = list_matches(app.workspace(), job_id=job_id)
    emit(
        app,
        [m.to_json() for m in records],
        as_json=as_json,
        human=lambda c: c.print(_matches_table(records)),
    )
