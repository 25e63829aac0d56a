"""Classifying matches: is a found use covered by a licence of the work?

A crawl loads every licence once (:func:`load_index`) and classifies each match as it is
stored (``crawl_matches.licence`` and ``licence_note``); :func:`settle_job` then records
a ``licensed`` decision, by copyseal itself and naming the licence, for each of the job's
licensed matches, appended to the ledger in one batch (see
:func:`copyseal.review.decisions.record_licensed`). :func:`classify` answers for one
use, reading only that work's licences.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, exists, select

from copyseal.db.schema.crawl import CrawlMatch
from copyseal.db.schema.licences import Licence
from copyseal.db.schema.review import Decision
from copyseal.licences._model import LicenceRecord, Verdict
from copyseal.licences._rules import LicenceIndex
from copyseal.times import utc
from copyseal.workspace import Workspace

__all__ = ["classify", "load_index", "settle_job"]


def load_index(conn: Connection, *, work_id: str | None = None) -> LicenceIndex:
    """The licences (of one work) as an in-memory :class:`LicenceIndex`."""
    query = select(Licence)
    if work_id is not None:
        query = query.where(Licence.work_id == work_id)
    return LicenceIndex(LicenceRecord.from_row(r) for r in conn.execute(query))


def classify(
    source: Workspace | Connection, *, work_id: str, page_url: str, at: datetime
) -> Verdict:
    """Whether a licence covers the use of ``work_id`` on ``page_url`` at time ``at``
    (one indexed query for the work's licences; rules in :mod:`copyseal.licences._rules`).
    """
    if isinstance(source, Workspace):
        with source.engine.connect() as conn:
            index = load_index(conn, work_id=work_id)
    else:
        index = load_index(source, work_id=work_id)
    return index.classify(work_id=work_id, page_url=page_url, at=utc(at))


def settle_job(ws: Workspace, job_id: str) -> int:
    """Record the ``licensed`` decision of every licensed match of a job that has no
    decision yet; returns how many were recorded (0 when the job has none)."""
    from copyseal.review.decisions import record_licensed

    with ws.engine.connect() as conn:
        pending = conn.execute(
            select(CrawlMatch.id, CrawlMatch.licence)
            .where(
                CrawlMatch.job_id == job_id,
                CrawlMatch.licence.is_not(None),
                ~exists().where(Decision.match_id == CrawlMatch.id),
            )
            .order_by(CrawlMatch.id)
        ).all()
    if not pending:
        return 0
    return len(record_licensed(ws, [(int(i), str(lic)) for i, lic in pending]))
