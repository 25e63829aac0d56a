"""The infringer's record: re-visits of matched pages and takedown notices.

Creates ``match_visits`` and ``case_notices``. Mirrors :mod:`copyseal.db.schema.record`.

Revision ID: 0013_record
Revises: 0012_rights_metadata
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_record"
down_revision = "0012_rights_metadata"
branch_labels = None
depends_on = None

_MatchKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "match_visits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("match_id", _MatchKey, nullable=False),
        sa.Column("page_url", sa.Text(), nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.String(16), nullable=True),
        sa.Column("found_page_url", sa.Text(), nullable=True),
        sa.Column("found_image_url", sa.Text(), nullable=True),
        sa.Column("similarity", sa.Float(), nullable=True),
        sa.Column("bundle_id", sa.String(40), nullable=True),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["crawl_matches.id"],
            name=op.f("fk_match_visits_match_id_crawl_matches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["bundle_id"],
            ["evidence_bundles.bundle_id"],
            name=op.f("fk_match_visits_bundle_id_evidence_bundles"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_visits")),
    )
    op.create_index(
        "ix_match_visits_match_id_visited_at", "match_visits", ["match_id", "visited_at"]
    )
    op.create_index(op.f("ix_match_visits_visited_at"), "match_visits", ["visited_at"])
    op.create_table(
        "case_notices",
        sa.Column("notice_id", sa.String(32), nullable=False),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_to", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["review_cases.case_id"],
            name=op.f("fk_case_notices_case_id_review_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("notice_id", name=op.f("pk_case_notices")),
    )
    op.create_index(op.f("ix_case_notices_case_id"), "case_notices", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_case_notices_case_id"), table_name="case_notices")
    op.drop_table("case_notices")
    op.drop_index(op.f("ix_match_visits_visited_at"), table_name="match_visits")
    op.drop_index("ix_match_visits_match_id_visited_at", table_name="match_visits")
    op.drop_table("match_visits")
