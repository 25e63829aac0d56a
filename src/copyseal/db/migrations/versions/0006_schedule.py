"""Scheduled crawl runs, one row per (schedule, due time).

Mirrors :class:`copyseal.db.schema.crawl.ScheduleRun`.

Revision ID: 0006_schedule
Revises: 0005_evidence
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_schedule"
down_revision = "0005_evidence"
branch_labels = None
depends_on = None

_BIG_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "schedule_runs",
        sa.Column("id", _BIG_KEY, autoincrement=True, nullable=False),
        sa.Column("schedule", sa.String(64), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("revisit_pages", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["crawl_jobs.job_id"],
            name=op.f("fk_schedule_runs_job_id_crawl_jobs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_runs")),
        sa.UniqueConstraint("schedule", "due_at", name=op.f("uq_schedule_runs_schedule")),
    )
    op.create_index("ix_schedule_runs_status", "schedule_runs", ["status"])
    op.create_index(op.f("ix_schedule_runs_job_id"), "schedule_runs", ["job_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_schedule_runs_job_id"), table_name="schedule_runs")
    op.drop_index("ix_schedule_runs_status", table_name="schedule_runs")
    op.drop_table("schedule_runs")
