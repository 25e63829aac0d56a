"""The report's timeline section: per site, how long the use went on and whether it
stopped after notice, then every visit of every match (see :mod:`copyseal.timeline`)."""

from __future__ import annotations

from copyseal.export._layout import Report, facts, heading, para, when
from copyseal.timeline import SiteTimeline

__all__ = ["timeline_section"]


def _site(pdf: Report, t: SiteTimeline) -> None:
    heading(pdf, f"Site {t.site}", 11)
    para(pdf, t.summary() + ".", size=9)
    rows: list[tuple[str, object]] = [
        ("First seen", when(t.first_seen)),
        ("Last seen", when(t.last_seen)),
        ("Days in use", "-" if t.days_in_use is None else t.days_in_use),
        ("Seen", f"{t.times_seen} time(s)"),
        ("Removed on", when(t.removed_on) if t.removed_on else "not removed"),
    ]
    removed = t.removed_on
    for n in t.notices:
        after = n.to_json(removed)["removed_days_after"]
        rows.append(
            (
                "Notice sent",
                f"{when(n.sent_at)} to {n.sent_to}: {n.kind} notice {n.notice_id} of case"
                f" {n.case_id}, SHA-256 {n.sha256}, ledger entry {n.ledger_index}"
                + ("" if after is None else f"; removed {after} day(s) later"),
            )
        )
    facts(pdf, rows)
    for m in t.matches:
        heading(pdf, f"Match {m.match_id}: {m.page_url}", 9)
        facts(
            pdf,
            [
                (
                    f"{v.at:%Y-%m-%d %H:%M:%S}",
                    v.result
                    + ("" if v.bundle_id is None else f", bundle {v.bundle_id}")
                    + ("" if v.similarity is None else f", similarity {v.similarity:.3f}")
                    + (" (first capture)" if i == 0 else ""),
                )
                for i, v in enumerate(m.visits)
            ],
        )


def timeline_section(pdf: Report, timelines: tuple[SiteTimeline, ...]) -> None:
    """A new page with each site's timeline (nothing when there is none)."""
    if not timelines:
        return
    pdf.add_page()
    heading(pdf, "Timeline of the use")
    para(
        pdf,
        "Each match's first visit is the capture sealed when it was found; later visits"
        " re-captured the page and sealed a new bundle, also when the picture was gone."
        " 'Days in use' counts whole days from the first to the last sighting (present,"
        " changed or moved): the use may have begun before it was found. A site counts"
        " as removed when the last of its copies was found removed or its page gone; a"
        " blocked visit proves nothing either way. Times are UTC.",
    )
    for t in timelines:
        _site(pdf, t)
