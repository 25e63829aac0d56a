"""Every table of the database, from one import.

Importing this module registers the whole schema (:mod:`copyseal.db.schema`) on
:data:`copyseal.db.base.Base.metadata`, which Alembic compares against. It imports only
SQLAlchemy, never a pipeline stage, so light commands can read any table cheaply.
"""

from __future__ import annotations

from copyseal.db.schema.anchors import AnchorDeployment, AnchorRecordRow
from copyseal.db.schema.bundle import CaptureFailure, EvidenceBundle
from copyseal.db.schema.crawl import (
    AppTarget,
    CrawlImage,
    CrawlJob,
    CrawlLinkSkip,
    CrawlMatch,
    CrawlPage,
    ScheduleRun,
    TargetEvent,
)
from copyseal.db.schema.distributed import CrawlLease, CrawlWorker, DistributedJob, SealTask
from copyseal.db.schema.ledger import LedgerCheckpoint, LedgerEntry, LedgerSubtree
from copyseal.db.schema.licences import Licence
from copyseal.db.schema.record import CaseNotice, MatchVisit
from copyseal.db.schema.review import (
    Case,
    CaseMatch,
    Decision,
    Export,
    LoginAttempt,
    User,
    WebSession,
)
from copyseal.db.schema.works import Work, WorkFingerprint

__all__ = [
    "AnchorDeployment",
    "AnchorRecordRow",
    "AppTarget",
    "CaptureFailure",
    "Case",
    "CaseMatch",
    "CaseNotice",
    "CrawlImage",
    "CrawlJob",
    "CrawlLease",
    "CrawlLinkSkip",
    "CrawlMatch",
    "CrawlPage",
    "CrawlWorker",
    "Decision",
    "DistributedJob",
    "EvidenceBundle",
    "Export",
    "LedgerCheckpoint",
    "LedgerEntry",
    "LedgerSubtree",
    "Licence",
    "LoginAttempt",
    "MatchVisit",
    "ScheduleRun",
    "SealTask",
    "TargetEvent",
    "User",
    "WebSession",
    "Work",
    "WorkFingerprint",
]
