"""Evidence bundles and capture failures.

Revision ID: 0005_evidence
Revises: 0004_crawl
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_evidence"
down_revision = "0004_crawl"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_bundles",
        sa.Column("bundle_id", sa.String(40), nullable=False),
        sa.Column("page_url", sa.Text(), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("leaf_hash", sa.String(64), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["crawl_jobs.job_id"],
            name=op.f("fk_evidence_bundles_job_id_crawl_jobs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("bundle_id", name=op.f("pk_evidence_bundles")),
    )
    op.create_index(
        op.f("ix_evidence_bundles_job_id"), "evidence_bundles", ["job_id"], unique=False
    )
    op.create_table(
        "capture_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("page_url", sa.Text(), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["crawl_jobs.job_id"],
            name=op.f("fk_capture_failures_job_id_crawl_jobs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capture_failures")),
    )
    op.create_index(
        op.f("ix_capture_failures_job_id"), "capture_failures", ["job_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_capture_failures_job_id"), table_name="capture_failures")
    op.drop_table("capture_failures")
    op.drop_index(op.f("ix_evidence_bundles_job_id"), table_name="evidence_bundles")
    op.drop_table("evidence_bundles")
