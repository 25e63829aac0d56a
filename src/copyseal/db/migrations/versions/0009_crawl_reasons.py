"""Why pages and images were not crawled: reason codes, and links never queued.

Adds ``reason_code`` to ``crawl_pages`` and ``crawl_images`` (rows written before stay
null) and creates ``crawl_link_skips``. Mirrors :mod:`copyseal.db.schema.crawl`.

Revision ID: 0009_crawl_reasons
Revises: 0008_crawl_targets
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_crawl_reasons"
down_revision = "0008_crawl_targets"
branch_labels = None
depends_on = None

_BIG_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    for table in ("crawl_pages", "crawl_images"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("reason_code", sa.String(32), nullable=True))
    op.create_table(
        "crawl_link_skips",
        sa.Column("id", _BIG_KEY, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("url_key", sa.String(64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("reason_code", sa.String(32), nullable=False),
        sa.Column("found_on", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["crawl_jobs.job_id"],
            name=op.f("fk_crawl_link_skips_job_id_crawl_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_link_skips")),
        sa.UniqueConstraint("job_id", "url_key", name=op.f("uq_crawl_link_skips_job_id")),
    )
    op.create_index("ix_crawl_link_skips_job_reason", "crawl_link_skips", ["job_id", "reason_code"])


def downgrade() -> None:
    op.drop_index("ix_crawl_link_skips_job_reason", table_name="crawl_link_skips")
    op.drop_table("crawl_link_skips")
    for table in ("crawl_images", "crawl_pages"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("reason_code")
