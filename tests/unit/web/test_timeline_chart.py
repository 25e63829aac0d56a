"""The timeline chart's geometry: positions on the time axis, colours, notices, the cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from copyseal.timeline import MatchTimeline, NoticeEvent, SiteTimeline, Visit
from copyseal.web._timeline import COLOURS, MAX_ROWS, chart

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _match(n: int, results: list[str]) -> MatchTimeline:
    return MatchTimeline(
        match_id=n,
        work_id="w1",
        page_url=f"https://shop.example/{n}",
        site="shop.example",
        visits=tuple(
            Visit(at=T0 + timedelta(days=10 * i), result=r, bundle_id=None, similarity=None)
            for i, r in enumerate(results)
        ),
    )


def test_dots_span_and_notice_sit_on_one_time_axis() -> None:
    notice = NoticeEvent(
        notice_id="n1", case_id="c1", kind="dmca", sha256="e" * 64, sent_to="x",
        sent_at=T0 + timedelta(days=15), ledger_index=3,
    )  # fmt: skip
    record = SiteTimeline(
        site="shop.example",
        matches=(_match(1, ["present", "changed", "removed"]),),
        notices=(notice,),
    )
    geometry = chart(record)
    (row,) = geometry["rows"]
    xs = [d["x"] for d in row["dots"]]
    assert xs == [150.0, 430.0, 710.0]  # days 0, 10, 20 over 560 px from x=150
    assert [d["colour"] for d in row["dots"]] == [
        COLOURS["present"],
        COLOURS["changed"],
        COLOURS["removed"],
    ]
    assert row["span"] == {"x": 150.0, "width": 280.0}  # first to last sighting
    assert geometry["notices"][0]["x"] == 570.0  # day 15
    assert geometry["more"] == 0


def test_the_chart_draws_at_most_max_rows() -> None:
    record = SiteTimeline(
        site="shop.example",
        matches=tuple(_match(n, ["present"]) for n in range(MAX_ROWS + 7)),
    )
    geometry = chart(record)
    assert len(geometry["rows"]) == MAX_ROWS and geometry["more"] == 7
