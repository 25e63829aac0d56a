"""Crawl targets kept in the database (managed in the review app) and their history.

Mirrors :class:`copyseal.db.schema.crawl.AppTarget` and ``TargetEvent``.

Revision ID: 0008_crawl_targets
Revises: 0007_review
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_crawl_targets"
down_revision = "0007_review"
branch_labels = None
depends_on = None

_BIG_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "crawl_targets",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("cron", sa.String(100), nullable=True),
        sa.Column("revisit_matches", sa.Boolean(), nullable=False),
        sa.Column("schedule_enabled", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("updated_at", _TZ, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_crawl_targets")),
    )
    op.create_table(
        "crawl_target_events",
        sa.Column("id", _BIG_KEY, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_target_events")),
    )
    op.create_index("ix_crawl_target_events_name", "crawl_target_events", ["name", "id"])


def downgrade() -> None:
    op.drop_index("ix_crawl_target_events_name", table_name="crawl_target_events")
    op.drop_table("crawl_target_events")
    op.drop_table("crawl_targets")
