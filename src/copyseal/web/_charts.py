"""Simple horizontal bar charts, drawn as inline SVG by the templates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["bars"]

_WIDTH = 260.0


def bars(rows: Sequence[tuple[str, int]]) -> dict[str, Any]:
    """The geometry of a bar chart: one bar per (label, value), scaled to the largest."""
    top = max((v for _, v in rows), default=0) or 1
    return {
        "height": 24 * len(rows) + 4,
        "bars": [
            {
                "label": label,
                "value": value,
                "y": 24 * i + 2,
                "width": round(_WIDTH * value / top, 1),
            }
            for i, (label, value) in enumerate(rows)
        ],
    }
