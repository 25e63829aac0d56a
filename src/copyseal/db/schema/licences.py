"""The licence registry's table: who may use which work, where and when.

A row is the current state of one licence; the facts it was granted with are also a
signed ``licence`` statement in the ledger (``ledger_index``), and a revocation is a
``licence-revocation`` statement (``revoked_at``, ``revoke_reason``). ``source`` is
``grant`` (``copyseal licences grant``) or ``market`` (a sale imported from the market
contract: ``buyer``, ``tx_hash``, ``chain_id`` and ``log_index`` identify the sale's event
log, unique so that importing the same sale twice keeps one licence). ``domains`` and
``url_patterns`` are JSON lists of strings. Migration ``0011_licences`` creates the table
and adds the classification columns of ``crawl_matches``.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from copyseal.db.base import Base

__all__ = ["LICENCES", "Licence"]


class Licence(Base):
    """One licence of one work (see the module's docstring)."""

    __tablename__ = "licences"
    __table_args__ = (UniqueConstraint("chain_id", "tx_hash", "log_index"),)

    licence_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    work_id: Mapped[str] = mapped_column(String(32), ForeignKey("works.work_id"), index=True)
    licensee: Mapped[str] = mapped_column(String(255))
    #: JSON lists of strings: host names (``*.`` for subdomains) and URL patterns.
    domains: Mapped[str] = mapped_column(Text, default="[]")
    url_patterns: Mapped[str] = mapped_column(Text, default="[]")
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    territory: Mapped[str | None] = mapped_column(String(64))
    terms_sha256: Mapped[str | None] = mapped_column(String(64))
    terms: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    buyer: Mapped[str | None] = mapped_column(String(64))
    tx_hash: Mapped[str | None] = mapped_column(String(80))
    chain_id: Mapped[int | None] = mapped_column(BigInteger, autoincrement=False)
    log_index: Mapped[int | None] = mapped_column(Integer, autoincrement=False)
    #: Index of the licence statement in the ledger.
    ledger_index: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoke_reason: Mapped[str | None] = mapped_column(Text)


#: The Core table.
LICENCES = cast(Table, Licence.__table__)
