"""Crawl jobs, their page frontier, images seen and matches found.

Mirrors :mod:`copyseal.db.schema.crawl`.

Revision ID: 0004_crawl
Revises: 0003_fingerprints
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_crawl"
down_revision = "0003_fingerprints"
branch_labels = None
depends_on = None

_BIG_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _job_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["job_id"],
        ["crawl_jobs.job_id"],
        name=op.f(f"fk_{table}_job_id_crawl_jobs"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "crawl_jobs",
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("spider", sa.String(64), nullable=False),
        sa.Column("render", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("robots_override", sa.Text(), nullable=True),
        sa.Column("stats", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_crawl_jobs")),
    )
    op.create_table(
        "crawl_pages",
        sa.Column("id", _BIG_KEY, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("url_key", sa.String(64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("final_url", sa.Text(), nullable=True),
        sa.Column("images", sa.Integer(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        _job_fk("crawl_pages"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_pages")),
        sa.UniqueConstraint("job_id", "url_key", name=op.f("uq_crawl_pages_job_id")),
    )
    op.create_index("ix_crawl_pages_job_status", "crawl_pages", ["job_id", "status"])
    op.create_table(
        "crawl_images",
        sa.Column("id", _BIG_KEY, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("url_key", sa.String(64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("format", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        _job_fk("crawl_images"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_images")),
        sa.UniqueConstraint("job_id", "url_key", name=op.f("uq_crawl_images_job_id")),
    )
    op.create_index("ix_crawl_images_job_sha256", "crawl_images", ["job_id", "sha256"])
    op.create_table(
        "crawl_matches",
        sa.Column("id", _BIG_KEY, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("page_key", sa.String(64), nullable=False),
        sa.Column("image_key", sa.String(64), nullable=False),
        sa.Column("page_url", sa.Text(), nullable=False),
        sa.Column("image_url", sa.Text(), nullable=False),
        sa.Column("work_id", sa.String(32), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("image_sha256", sa.String(64), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bundle_id", sa.String(40), nullable=True),
        _job_fk("crawl_matches"),
        sa.ForeignKeyConstraint(
            ["work_id"], ["works.work_id"], name=op.f("fk_crawl_matches_work_id_works")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_matches")),
        sa.UniqueConstraint(
            "job_id",
            "page_key",
            "image_key",
            "work_id",
            name=op.f("uq_crawl_matches_job_id"),
        ),
    )
    op.create_index(op.f("ix_crawl_matches_work_id"), "crawl_matches", ["work_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_crawl_matches_work_id"), table_name="crawl_matches")
    op.drop_table("crawl_matches")
    op.drop_index("ix_crawl_images_job_sha256", table_name="crawl_images")
    op.drop_table("crawl_images")
    op.drop_index("ix_crawl_pages_job_status", table_name="crawl_pages")
    op.drop_table("crawl_pages")
    op.drop_table("crawl_jobs")
