"""``copyseal revisit``: capture known uses again and seal what each page shows now."""

from __future__ import annotations

import click
from rich.console import Console

from copyseal.cli._common import App, emit, json_option, network_options, pass_app
from copyseal.revisit import MAX_LINKED_PAGES, VisitResult
from copyseal.revisit import revisit as run_revisit

__all__ = ["revisit"]


def _line(v: VisitResult) -> str:
    """One line per match: id, result, similarity, page, then the bundle or the error."""
    result = v.result or "failed"
    similarity = f" {v.similarity:.4f}" if v.similarity is not None else ""
    tail = (
        f"-> bundle {v.bundle.bundle_id} (ledger {v.ledger_index})"
        if v.bundle is not None
        else f"error: {v.error}"
    )
    found = ""
    if v.result == "moved" and v.found_page_url:
        found = f" now at {v.found_page_url}"
    return f"match {v.match_id} {result}{similarity} {v.page_url}{found} {tail}"


@click.command()
@click.option("--case", "cases", multiple=True, metavar="CASE", help="A case's matches.")
@click.option(
    "--domain", "domains", multiple=True, metavar="HOST", help="Matches on this site (host)."
)
@click.option(
    "--match", "match_ids", multiple=True, type=int, metavar="ID", help="One match (by id)."
)
@network_options()
@click.option(
    "--linked-pages",
    type=click.IntRange(min=0),
    default=MAX_LINKED_PAGES,
    show_default=True,
    help="Same-site linked pages searched when the work left the page.",
)
@json_option
@pass_app
def revisit(
    app: App,
    cases: tuple[str, ...],
    domains: tuple[str, ...],
    match_ids: tuple[int, ...],
    allow_private: bool,
    allow_networks: tuple[str, ...],
    linked_pages: int,
    as_json: bool,
) -> None:
    """Capture known uses again: is the work present, changed, moved or gone?

    Every visit is sealed as a new bundle (also when the page or the work is gone) and
    logged as a continued-use statement. Without options, every match that is not
    rejected is visited; --case, --domain and --match (repeatable) choose. Exit status 1
    when a visit failed (it is recorded and made again by the next run).

    \b
    copyseal revisit --domain shop.example
    copyseal revisit --case c-2026-001 --json
    """
    visits = run_revisit(
        app.workspace(),
        cases=cases,
        domains=domains,
        match_ids=match_ids,
        allow_private=allow_private,
        allow_networks=allow_networks,
        max_linked_pages=linked_pages,
    )

    def human(console: Console) -> None:
        if not visits:
            console.print("no match to re-visit")
        for v in visits:
            console.print(_line(v), markup=False, soft_wrap=True)

    emit(app, [v.to_json() for v in visits], as_json=as_json, human=human)
    if any(v.error for v in visits):
        # Failed visits are recorded and retried by the next run; a script still sees them.
        raise click.exceptions.Exit(1)
