"""``copyseal crawl``, ``copyseal crawls`` (alias ``jobs``), ``copyseal matches``,
``copyseal schedule list`` and ``copyseal scheduler``."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from copyseal.cli._common import App, emit, json_option, network_options, pass_app, stderr_console
from copyseal.crawl import (
    CrawlSummary,
    MatchRecord,
    RunRecord,
    effective_settings,
    enqueue_crawl,
    list_jobs,
    list_matches,
    schedule_states,
    spec_for,
)

if TYPE_CHECKING:
    from copyseal.pipeline import SealOutcome

# copyseal.pipeline (Scrapy, Playwright) is imported by the commands that crawl, so that
# `copyseal crawls` and `copyseal matches` only read the database.


def _summary_human(s: CrawlSummary, sealed: list[SealOutcome]) -> Callable[[Console], None]:
    def human(console: Console) -> None:
        data = s.to_json()
        # Plain text (markup=False): "[finished]" is not a style tag, and URLs or reasons
        # may hold brackets.
        console.print(
            f"crawl {s.job_id} [{s.status}]: {data['pages']} page(s), {data['images']} image(s),"
            f" {data['match_count']} match(es)",
            markup=False,
        )
        console.print(
            f"  pages: {data['page_status']}  images: {data['image_status']}", markup=False
        )
        if s.robots_override:
            console.print(f"  robots.txt not obeyed: {s.robots_override}", markup=False)
        # Why pages and images were not done, with the remedy: one line each, never
        # wrapped, so it stays greppable.
        for line in s.reasons.lines():
            console.print(f"  {line}", markup=False, soft_wrap=True)
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
@network_options(private_default=None)
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
@click.option(
    "--distributed",
    is_flag=True,
    help="Enqueue the job for 'copyseal worker' processes and print it at once.",
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
    allow_networks: tuple[str, ...],
    robots_reason: str | None,
    resume_job: str | None,
    progress: bool,
    seal: bool | None,
    distributed: bool,
    as_json: bool,
) -> None:
    """Crawl a configured TARGET, or URLs, and match every image found.

    \b
    copyseal crawl https://shop.example/            follow links on the site
    copyseal crawl suspect-shop                      a target from config.yaml
    copyseal crawl urls.txt --spider urls            pages listed in a file
    copyseal crawl --resume JOB                      continue a killed crawl
    copyseal crawl URL --distributed                 enqueue for copyseal worker
    """
    from copyseal.pipeline import resume, run_crawl

    ws = app.workspace()
    if distributed and resume_job:
        raise click.UsageError("--distributed takes no --resume (workers resume by themselves)")
    if resume_job:
        if targets:
            raise click.UsageError("--resume takes no TARGET")
        result = resume(ws, resume_job, seal=seal, progress=progress)
    else:
        if not targets:
            raise click.UsageError("give a TARGET, URLs, or --resume JOB")
        spec = spec_for(
            effective_settings(ws),
            targets,
            spider=spider,
            render=render,
            max_pages=max_pages,
            max_depth=max_depth,
            allow_private=allow_private,
            allow_networks=allow_networks,
            robots_override_reason=robots_reason,
        )
        if distributed:
            queued = enqueue_crawl(ws, spec, capture=seal)
            emit(app, _listing(queued), as_json=as_json, human=_queued_human(queued))
            return
        result = run_crawl(ws, spec, seal=seal, progress=progress)
    emit(
        app,
        result.to_json(),
        as_json=as_json,
        human=_summary_human(result.summary, list(result.sealed)),
    )
    _say_if_errors_stopped_it(result.summary)


def _say_if_errors_stopped_it(s: CrawlSummary) -> None:
    """A crawl that stopped with pages left after errors Scrapy only logged (its database
    restarted, a failing pipeline) says so on stderr, also under --json: the summary
    alone looks like a crawl stopped by --max-pages."""
    errors = int(s.stats.get("log_count/ERROR", 0)) + int(s.stats.get("spider_exceptions/count", 0))
    left = s.counts.get("pages", {}).get("queued", 0)
    if s.status == "stopped" and errors and left:
        stderr_console().print(
            f"crawl {s.job_id} stopped after {errors} error(s) with {left} page(s) left"
            f" (see the log); continue it with: copyseal crawl --resume {s.job_id}",
            markup=False,
            soft_wrap=True,
        )


@click.command()
@json_option
@pass_app
def crawls(app: App, as_json: bool) -> None:
    """List crawl jobs with their status and counts (also: copyseal jobs)."""
    jobs = list_jobs(app.workspace())

    def human(console: Console) -> None:
        table = Table(title=f"{len(jobs)} crawl job(s)")
        for column in ("job", "status", "target", "spider", "render", "pages", "images", "matches"):
            table.add_column(column)
        for j in jobs:
            d = j.to_json()
            pages = str(d["pages"])
            if j.distributed and j.distributed["pages_in_flight"]:
                pages += f" (+{j.distributed['pages_in_flight']} in flight)"
            table.add_row(
                j.job_id,
                j.status,
                j.target,
                j.spider,
                "yes" if j.render else "no",
                pages,
                str(d["images"]),
                str(d["match_count"]),
            )
        console.print(table)

    emit(app, [_listing(j) for j in jobs], as_json=as_json, human=human)


def _queued_human(j: CrawlSummary) -> Callable[[Console], None]:
    def human(console: Console) -> None:
        console.print(
            f"crawl {j.job_id} {j.status}: 'copyseal worker' processes crawl it;"
            f" 'copyseal crawls' shows its progress"
        )

    return human


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


# -- schedules -----------------------------------------------------------------------------


def _when(value: str | None) -> str:
    return value.replace("+00:00", "Z") if value else ""


@click.group("schedule")
def schedule_group() -> None:
    """Scheduled crawls (crawl.schedules in config.yaml; cron in UTC)."""


@schedule_group.command("list")
@json_option
@pass_app
def schedule_list(app: App, as_json: bool) -> None:
    """List schedules: target, cron, next run (UTC), last run and its job."""
    states = schedule_states(app.workspace())
    data = [s.to_json() for s in states]

    def human(console: Console) -> None:
        table = Table(title=f"{len(states)} schedule(s), times in UTC")
        for column in ("schedule", "target", "cron", "next run", "last run", "status", "job"):
            table.add_column(column, overflow="fold")
        for d in data:
            last = d["last_run"] or {}
            nxt = _when(d["next_run"]) + (" (due)" if d["due"] else "")
            table.add_row(
                d["name"] + ("" if d["enabled"] else " (disabled)"),
                d["target"] + (" +revisit" if d["revisit_matches"] else ""),
                d["cron"],
                nxt if d["enabled"] else "-",
                _when(last.get("due_at")),
                last.get("job_status") or last.get("status") or "",
                last.get("job_id") or "",
            )
        console.print(table)

    emit(app, data, as_json=as_json, human=human)


def _run_line(r: RunRecord) -> str:
    text = f"schedule {r.schedule} (due {_when(r.due_at.isoformat())}): "
    if r.status == "running":
        text += f"job {r.job_id} released, to be resumed"
    else:
        text += f"job {r.job_id or '-'} {r.status}"
    return text + (f": {r.error}" if r.error else "")


@click.command()
@click.option("--once", is_flag=True, help="Run what is due now, then exit.")
@click.option(
    "--poll",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds between checks for due runs.",
)
@json_option
@pass_app
def scheduler(app: App, once: bool, poll: float, as_json: bool) -> None:
    """Run due scheduled crawls until stopped (SIGINT or SIGTERM).

    Each due run is claimed exactly once in the database (two schedulers or a restart
    never run it twice); runs missed while no scheduler ran are caught up at start (the
    latest runs, older ones are recorded as missed); a crawl interrupted by a stop or a
    crash is resumed by the next scheduler. Progress goes to stderr; with --json, the
    runs handled are printed as one JSON list at exit.
    """
    from copyseal.pipeline import ChildLaunch, ScheduledCrawls

    launch = ChildLaunch(config_path=app.config_path, overrides=app.overrides, debug=app.debug)

    def on_run(r: RunRecord) -> None:
        click.echo(_run_line(r), err=True)

    def on_signal(sig: signal.Signals, first: bool) -> None:
        if first:
            click.echo(
                f"{sig.name}: stopping (the crawl in progress stops and is resumed by the"
                " next scheduler)",
                err=True,
            )

    service = ScheduledCrawls(app.workspace(), launch=launch, on_run=on_run)
    with service.stop_on_signals(on_signal):
        names = ", ".join(sorted(service.scheduler.settings.crawl.schedules)) or "none configured"
        click.echo(f"scheduler {service.scheduler.owner}: schedules {names}", err=True)
        handled = service.run(once=once, poll=poll)

    def human(console: Console) -> None:
        console.print(f"{len(handled)} scheduled run(s) handled")
        for r in handled:
            console.print("  " + _run_line(r))

    if once or as_json:
        emit(app, [r.to_json() for r in handled], as_json=as_json, human=human)
    if any(r.status == "failed" for r in handled):
        raise click.exceptions.Exit(1)
