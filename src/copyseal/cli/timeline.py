"""``copyseal timeline (DOMAIN | --match M) [--json]``: a site's or a match's record.

``--json`` shape (:meth:`copyseal.timeline.SiteTimeline.to_json`): ``{"site",
"first_seen", "last_seen", "days_in_use", "removed_on" | null, "notices": [{"notice_id",
"case_id", "kind", "sha256", "sent_to", "sent_at", "ledger_index",
"removed_days_after"}], "matches": [{"match_id", "work_id", "page_url", "visits":
[{"at", "result", "bundle_id", "similarity"}]}]}``; the first capture is each match's
first visit (result ``present``).
"""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from copyseal.cli._common import App, emit, json_option, pass_app
from copyseal.review.errors import ReviewError

__all__ = ["timeline"]


@click.command()
@click.argument("domain", required=False)
@click.option("--match", "match_id", type=int, help="The record of this match only.")
@json_option
@pass_app
def timeline(app: App, domain: str | None, match_id: int | None, as_json: bool) -> None:
    """Show the record of a site (DOMAIN) or of one match: first seen, every visit, last
    seen, days in use, removed on, notices sent."""
    from copyseal.timeline import match_timeline, site_timeline

    if (domain is None) == (match_id is None):
        raise ReviewError("give a DOMAIN or --match M (one of them)")
    ws = app.workspace()
    record = (
        match_timeline(ws, match_id) if match_id is not None else site_timeline(ws, domain or "")
    )

    def human(console: Console) -> None:
        console.print(record.summary())
        table = Table(title=f"{len(record.matches)} match(es)")
        for column in ("match", "work", "page", "visited (UTC)", "result", "bundle", "similarity"):
            table.add_column(column)
        for m in record.matches:
            for v in m.visits:
                table.add_row(
                    str(m.match_id),
                    m.work_id,
                    m.page_url,
                    v.at.strftime("%Y-%m-%d %H:%M:%S"),
                    v.result,
                    v.bundle_id or "-",
                    "-" if v.similarity is None else f"{v.similarity:.3f}",
                )
        console.print(table)
        for n in record.notices:
            console.print(
                f"notice {n.notice_id} ({n.kind}, case {n.case_id}) sent to {n.sent_to}"
                f" on {n.sent_at:%Y-%m-%d %H:%M:%S} UTC, sha256 {n.sha256}"
            )

    emit(app, record.to_json(), as_json=as_json, human=human)
