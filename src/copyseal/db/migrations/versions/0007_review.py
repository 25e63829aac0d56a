"""Review: accounts, sessions, login attempts, decisions, cases and exports.

Mirrors :mod:`copyseal.db.schema.review`.

Revision ID: 0007_review
Revises: 0006_schedule
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_review"
down_revision = "0006_schedule"
branch_labels = None
depends_on = None

_MATCH_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "review_users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("disabled_at", _TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_users")),
        sa.UniqueConstraint("name", name=op.f("uq_review_users_name")),
    )
    op.create_table(
        "review_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("expires_at", _TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["review_users.id"],
            name=op.f("fk_review_sessions_user_id_review_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_review_sessions")),
    )
    op.create_index(
        op.f("ix_review_sessions_user_id"), "review_sessions", ["user_id"], unique=False
    )
    op.create_table(
        "review_login_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("remote", sa.String(64), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("attempted_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_login_attempts")),
    )
    op.create_index(
        op.f("ix_review_login_attempts_attempted_at"),
        "review_login_attempts",
        ["attempted_at"],
        unique=False,
    )
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("match_id", _MATCH_KEY, nullable=False),
        sa.Column("decision", sa.String(24), nullable=False),
        sa.Column("reason", sa.String(24), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("reviewer", sa.String(64), nullable=False),
        sa.Column("decided_at", _TZ, nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["crawl_matches.id"],
            name=op.f("fk_review_decisions_match_id_crawl_matches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["review_users.id"],
            name=op.f("fk_review_decisions_user_id_review_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_decisions")),
    )
    op.create_index(
        op.f("ix_review_decisions_match_id"), "review_decisions", ["match_id"], unique=False
    )
    op.create_table(
        "review_cases",
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("domain", sa.String(255), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_review_cases")),
    )
    op.create_table(
        "review_case_matches",
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("match_id", _MATCH_KEY, nullable=False),
        sa.Column("added_at", _TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["review_cases.case_id"],
            name=op.f("fk_review_case_matches_case_id_review_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["crawl_matches.id"],
            name=op.f("fk_review_case_matches_match_id_crawl_matches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "match_id", name=op.f("pk_review_case_matches")),
    )
    op.create_table(
        "review_exports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("package_sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("exported_by", sa.String(64), nullable=False),
        sa.Column("exported_at", _TZ, nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["review_cases.case_id"],
            name=op.f("fk_review_exports_case_id_review_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_exports")),
    )
    op.create_index(op.f("ix_review_exports_case_id"), "review_exports", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_review_exports_case_id"), table_name="review_exports")
    op.drop_table("review_exports")
    op.drop_table("review_case_matches")
    op.drop_table("review_cases")
    op.drop_index(op.f("ix_review_decisions_match_id"), table_name="review_decisions")
    op.drop_table("review_decisions")
    op.drop_index(op.f("ix_review_login_attempts_attempted_at"), table_name="review_login_attempts")
    op.drop_table("review_login_attempts")
    op.drop_index(op.f("ix_review_sessions_user_id"), table_name="review_sessions")
    op.drop_table("review_sessions")
    op.drop_table("review_users")
