"""Distributed crawling: shared jobs, workers, page leases and seal tasks.

Creates ``distributed_jobs``, ``crawl_workers``, ``crawl_leases`` and ``seal_tasks``.
Mirrors :mod:`copyseal.db.schema.distributed`.

Revision ID: 0014_distributed
Revises: 0013_record
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_distributed"
down_revision = "0013_record"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "distributed_jobs",
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seeding_worker", sa.String(40), nullable=True),
        sa.Column("seeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("capture", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["crawl_jobs.job_id"],
            name=op.f("fk_distributed_jobs_job_id_crawl_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_distributed_jobs")),
    )
    op.create_table(
        "crawl_workers",
        sa.Column("worker_id", sa.String(40), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activity", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_crawl_workers")),
    )
    op.create_index(op.f("ix_crawl_workers_seen_at"), "crawl_workers", ["seen_at"])
    op.create_table(
        "crawl_leases",
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("url_key", sa.String(64), nullable=False),
        sa.Column("worker_id", sa.String(40), nullable=True),
        sa.Column("leased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["crawl_jobs.job_id"],
            name=op.f("fk_crawl_leases_job_id_crawl_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "url_key", name=op.f("pk_crawl_leases")),
    )
    op.create_table(
        "seal_tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("page_key", sa.String(64), nullable=False),
        sa.Column("page_url", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(40), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["crawl_jobs.job_id"],
            name=op.f("fk_seal_tasks_job_id_crawl_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seal_tasks")),
        sa.UniqueConstraint("job_id", "page_key", name=op.f("uq_seal_tasks_job_id")),
    )
    op.create_index("ix_seal_tasks_state", "seal_tasks", ["state"])


def downgrade() -> None:
    op.drop_index("ix_seal_tasks_state", table_name="seal_tasks")
    op.drop_table("seal_tasks")
    op.drop_table("crawl_leases")
    op.drop_index(op.f("ix_crawl_workers_seen_at"), table_name="crawl_workers")
    op.drop_table("crawl_workers")
    op.drop_table("distributed_jobs")
