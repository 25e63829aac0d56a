"""The anchors' tables: what each configured anchor did with each checkpoint, and the
contracts ``copyseal anchors deploy`` deployed.

One ``anchor_records`` row per (anchor kind, anchor name, checkpoint size), written
before the anchor is called (``sent``) so that a process killed between sending and
recording leaves a trace to find again. A row's status only moves forward
(``sent`` → ``anchored`` → ``confirmed``; ``failed`` rows are retried, which sends again),
and once a row holds an anchor's payload that payload is kept (see
:mod:`copyseal.anchors.service`). Migration ``0010_anchors`` creates the same tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from copyseal.db.base import Base

__all__ = ["ANCHOR_DEPLOYMENTS", "ANCHOR_RECORDS", "AnchorDeployment", "AnchorRecordRow"]


class AnchorRecordRow(Base):
    """One anchor's attempt at one checkpoint (``status``: ``sent``, ``anchored``,
    ``confirmed`` or ``failed``) and, once anchored, the anchor's own evidence."""

    __tablename__ = "anchor_records"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    #: The checkpoint's signed note, verbatim (what the proof's consistency leads to).
    note: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    #: The anchor's record payload (its own format), once anchored.
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: When the anchor says it committed the checkpoint (null: the kind gives no time).
    anchored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The last failure, and how many attempts failed in a row (carried to newer sizes).
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: A failed anchor is not tried again before this time (exponential back-off).
    retry_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AnchorDeployment(Base):
    """A contract ``copyseal anchors deploy NAME`` deployed for an anchor (one per anchor
    name and chain), so that ``contract: null`` finds it."""

    __tablename__ = "anchor_deployments"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    contract: Mapped[str] = mapped_column(String(64))
    tx_hash: Mapped[str] = mapped_column(String(80))
    block_number: Mapped[int] = mapped_column(BigInteger)
    deployed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


#: The Core tables.
ANCHOR_RECORDS = cast(Table, AnchorRecordRow.__table__)
ANCHOR_DEPLOYMENTS = cast(Table, AnchorDeployment.__table__)
