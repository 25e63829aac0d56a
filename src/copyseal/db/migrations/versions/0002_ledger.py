"""The ledger: entries, stored complete-subtree hashes, signed checkpoints.

Mirrors :mod:`copyseal.db.schema.ledger`. The log is append-only: the downgrade exists for
tests and operators, and destroys evidence.

Revision ID: 0002_ledger
Revises: 0001_foundation
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_ledger"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

# INTEGER on SQLite makes the key the rowid; BIGINT elsewhere for logs past 2**31 leaves.
_BIG_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("leaf_index", _BIG_KEY, autoincrement=False, nullable=False),
        sa.Column("entry_type", sa.String(64), nullable=False),
        sa.Column("leaf_data", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("integrated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_ledger_entries")),
    )
    op.create_index(
        op.f("ix_ledger_entries_leaf_hash"), "ledger_entries", ["leaf_hash"], unique=False
    )
    op.create_table(
        "ledger_subtrees",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("node_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("level", "node_index", name=op.f("pk_ledger_subtrees")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("tree_size", _BIG_KEY, autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_ledger_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("ledger_checkpoints")
    op.drop_table("ledger_subtrees")
    op.drop_index(op.f("ix_ledger_entries_leaf_hash"), table_name="ledger_entries")
    op.drop_table("ledger_entries")
