"""The timeline pages: a site's or a match's record, with a chart drawn as inline SVG on
the server (no script: the app's Content-Security-Policy allows none inline).

The chart has one row per match on a time axis from the first capture to the last visit
or notice: a bar for the span in use (first to last sighting), a dot per visit coloured
by its result, and a dashed line at each notice sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from copyseal.timeline import SiteTimeline, match_timeline, site_timeline
from copyseal.times import utc
from copyseal.web._context import CurrentSession, ctx_of, render

__all__ = ["MAX_ROWS", "chart", "router"]

router = APIRouter(include_in_schema=False)

#: Dot colour per visit result (colour-blind-safe Okabe-Ito palette).
COLOURS = {
    "present": "#009e73",
    "changed": "#e69f00",
    "moved": "#56b4e9",
    "removed": "#777777",
    "page-gone": "#000000",
    "blocked": "#d55e00",
}
_LEFT, _WIDTH, _ROW, _TOP = 150.0, 560.0, 28.0, 34.0
#: Rows drawn at most (the table below the chart lists every match).
MAX_ROWS = 100


def _x(at: datetime, start: datetime, span: float) -> float:
    return round(_LEFT + _WIDTH * (utc(at) - start).total_seconds() / span, 1)


def chart(record: SiteTimeline) -> dict[str, Any]:
    """The chart's geometry (for ``timeline.html``): rows, dots, spans, notices, ticks."""
    times = [v.at for m in record.matches for v in m.visits]
    times += [n.sent_at for n in record.notices]
    start, end = min(times), max(times)
    span = max((end - start).total_seconds(), 1.0)
    rows = []
    for i, m in enumerate(record.matches[:MAX_ROWS]):
        y = _TOP + i * _ROW
        first, last = m.first_seen, m.last_seen
        rows.append(
            {
                "label": f"#{m.match_id} {m.work_id}",
                "y": y,
                "span": None
                if first is None or last is None
                else {
                    "x": _x(first, start, span),
                    "width": max(_x(last, start, span) - _x(first, start, span), 2.0),
                },
                "dots": [
                    {
                        "x": _x(v.at, start, span),
                        "colour": COLOURS.get(v.result, "#999999"),
                        "title": f"{v.at:%Y-%m-%d %H:%M} UTC: {v.result}"
                        + ("" if v.similarity is None else f", similarity {v.similarity:.3f}"),
                    }
                    for v in m.visits
                ],
            }
        )
    height = _TOP + len(rows) * _ROW + 10
    return {
        # Room right of the axis for half the last tick's centred date (~33 px at 11 px).
        "width": _LEFT + _WIDTH + 40,
        "height": height,
        "rows": rows,
        "more": max(len(record.matches) - MAX_ROWS, 0),
        "notices": [
            {
                "x": _x(n.sent_at, start, span),
                "title": f"notice {n.notice_id} sent {n.sent_at:%Y-%m-%d}",
            }
            for n in record.notices
        ],
        "ticks": [
            {"x": _LEFT, "label": f"{start:%Y-%m-%d}"},
            {"x": _LEFT + _WIDTH, "label": f"{end:%Y-%m-%d}"},
        ],
        "legend": [
            {"x": _LEFT + i * 95, "result": r, "colour": c}
            for i, (r, c) in enumerate(COLOURS.items())
        ],
    }


def _page(request: Request, session: Any, record: SiteTimeline, title: str) -> Response:
    return render(
        request,
        "timeline.html",
        session,
        title=title,
        record=record.to_json(),
        summary=record.summary(),
        chart=chart(record),
        times_seen=record.times_seen,
    )


@router.get("/timeline/site/{site}")
def site_page(request: Request, site: str, session: CurrentSession) -> Response:
    record = site_timeline(ctx_of(request).ws, site)
    return _page(request, session, record, f"Timeline of {record.site}")


@router.get("/timeline/match/{match_id:int}")
def match_page(request: Request, match_id: int, session: CurrentSession) -> Response:
    record = match_timeline(ctx_of(request).ws, match_id)
    return _page(request, session, record, f"Timeline of match {match_id}")
