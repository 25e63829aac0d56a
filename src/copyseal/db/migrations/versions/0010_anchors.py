"""Anchors: each anchor's record per checkpoint, and deployed anchoring contracts.

Creates ``anchor_records`` and ``anchor_deployments``. Mirrors
:mod:`copyseal.db.schema.anchors`.

Revision ID: 0010_anchors
Revises: 0009_crawl_reasons
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_anchors"
down_revision = "0009_crawl_reasons"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "anchor_records",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("anchored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "name", "tree_size", name=op.f("pk_anchor_records")),
    )
    op.create_table(
        "anchor_deployments",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("contract", sa.String(64), nullable=False),
        sa.Column("tx_hash", sa.String(80), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "name", "chain_id", name=op.f("pk_anchor_deployments")),
    )


def downgrade() -> None:
    op.drop_table("anchor_deployments")
    op.drop_table("anchor_records")
