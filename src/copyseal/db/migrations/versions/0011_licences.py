"""Licences: the licence registry, and each match's licence classification.

Creates ``licences`` and adds ``licence`` (the licence that covers the use) and
``licence_note`` (why no licence of the work applies) to ``crawl_matches``. Mirrors
:mod:`copyseal.db.schema.licences` and :mod:`copyseal.db.schema.crawl`.

Revision ID: 0011_licences
Revises: 0010_anchors
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_licences"
down_revision = "0010_anchors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "licences",
        sa.Column("licence_id", sa.String(32), nullable=False),
        sa.Column("work_id", sa.String(32), nullable=False),
        sa.Column("licensee", sa.String(255), nullable=False),
        sa.Column("domains", sa.Text(), nullable=False),
        sa.Column("url_patterns", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("territory", sa.String(64), nullable=True),
        sa.Column("terms_sha256", sa.String(64), nullable=True),
        sa.Column("terms", sa.Text(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("buyer", sa.String(64), nullable=True),
        sa.Column("tx_hash", sa.String(80), nullable=True),
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=True),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=True),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["work_id"], ["works.work_id"], name=op.f("fk_licences_work_id_works")
        ),
        sa.PrimaryKeyConstraint("licence_id", name=op.f("pk_licences")),
        sa.UniqueConstraint("chain_id", "tx_hash", "log_index", name=op.f("uq_licences_chain_id")),
    )
    op.create_index(op.f("ix_licences_work_id"), "licences", ["work_id"], unique=False)
    with op.batch_alter_table("crawl_matches") as batch:
        batch.add_column(sa.Column("licence", sa.String(32), nullable=True))
        batch.add_column(sa.Column("licence_note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crawl_matches") as batch:
        batch.drop_column("licence_note")
        batch.drop_column("licence")
    op.drop_index(op.f("ix_licences_work_id"), table_name="licences")
    op.drop_table("licences")
