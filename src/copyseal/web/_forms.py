"""Parsing query strings and forms into library arguments (lenient about empty fields)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Final

from copyseal.review.errors import ReviewError
from copyseal.review.queue import QueueFilter

__all__ = ["FLASH", "QUEUE_KEYS", "queue_filter", "queue_query", "safe_next"]

#: The query parameters of the queue (kept when moving between queue and match pages).
QUEUE_KEYS: Final = ("status", "site", "work", "min_score", "max_score", "from", "to", "sort")
#: Messages the pages may show after a redirect (by code; free text is never reflected).
FLASH: Final = {
    "decided": "Decision recorded and appended to the ledger.",
    "case": "Case created.",
    "added": "Matches added to the case.",
    "exported": "Package exported and recorded in the ledger.",
    "user": "User saved.",
    "target": "Crawl target saved.",
    "target-removed": "Crawl target removed (its crawls, matches and evidence stay).",
}


def _text(params: Mapping[str, str], key: str) -> str | None:
    value = (params.get(key) or "").strip()
    return value or None


def _number(params: Mapping[str, str], key: str) -> float | None:
    value = _text(params, key)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError as e:
        raise ReviewError(f"{key} must be a number") from e


def _date(params: Mapping[str, str], key: str) -> date | None:
    value = _text(params, key)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise ReviewError(f"{key} must be a date (YYYY-MM-DD)") from e


def queue_filter(params: Mapping[str, str], *, per_page: int = 50) -> QueueFilter:
    """The queue filter a query string asks for (``page`` counts from 1)."""
    try:
        page = max(1, int(params.get("page") or 1))
    except ValueError as e:
        raise ReviewError("page must be a number") from e
    return QueueFilter(
        status=_text(params, "status"),
        site=_text(params, "site"),
        work_id=_text(params, "work"),
        min_score=_number(params, "min_score"),
        max_score=_number(params, "max_score"),
        found_from=_date(params, "from"),
        found_to=_date(params, "to"),
        sort=_text(params, "sort") or "newest",
        limit=per_page,
        offset=(page - 1) * per_page,
    )


def queue_query(params: Mapping[str, str]) -> dict[str, str]:
    """The non-empty queue parameters of a query string."""
    return {k: params[k] for k in QUEUE_KEYS if params.get(k)}


def safe_next(value: str | None) -> str:
    """A local path to go to after login (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
