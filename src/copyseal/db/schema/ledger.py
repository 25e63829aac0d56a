"""The ledger's tables: entries, stored complete-subtree hashes, and signed checkpoints.

Rows are only ever inserted (see :mod:`copyseal.ledger.store`); migration
``0002_ledger`` creates the same tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, SmallInteger, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from copyseal.db.base import Base

__all__ = [
    "CHECKPOINTS",
    "ENTRIES",
    "SUBTREES",
    "LedgerCheckpoint",
    "LedgerEntry",
    "LedgerSubtree",
    "ledger_tables",
]

# SQLite only makes a primary key the rowid (fast appends, no extra index) for a column
# declared exactly INTEGER; PostgreSQL needs BIGINT for logs past 2**31 leaves.
_BigIntKey = BigInteger().with_variant(Integer(), "sqlite")


class LedgerEntry(Base):
    """One log leaf: ``leaf_hash = SHA-256(0x00 || leaf_data)`` (RFC 9162 §2.1.1)."""

    __tablename__ = "ledger_entries"

    leaf_index: Mapped[int] = mapped_column(_BigIntKey, primary_key=True, autoincrement=False)
    entry_type: Mapped[str] = mapped_column(String(64))
    leaf_data: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    integrated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LedgerSubtree(Base):
    """Hash of the complete subtree of ``2**level`` leaves starting at ``node_index <<
    level`` (level ≥ 1; level-0 hashes are the entries' leaf hashes)."""

    __tablename__ = "ledger_subtrees"
    # Clustered on the key in SQLite (no rowid table plus separate key index).
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 (SQLAlchemy reads it once)

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    node_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerCheckpoint(Base):
    """Every checkpoint the log ever signed: one per appended batch, sizes increasing."""

    __tablename__ = "ledger_checkpoints"

    tree_size: Mapped[int] = mapped_column(_BigIntKey, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


#: The Core tables, for bulk inserts and streaming reads.
ENTRIES = cast(Table, LedgerEntry.__table__)
SUBTREES = cast(Table, LedgerSubtree.__table__)
CHECKPOINTS = cast(Table, LedgerCheckpoint.__table__)


def ledger_tables() -> list[Table]:
    """The ledger's tables (for ``metadata.create_all(tables=...)`` in tests)."""
    return [ENTRIES, SUBTREES, CHECKPOINTS]
