"""The review app under load, and login throttling.

- ``review_status``: each decided match's newest decision, kept by a trigger on
  ``review_decisions`` (filled from the existing decisions here);
- indexes on ``crawl_matches`` for the queue's orders (newest/oldest, strongest);
- ``review_login_attempts.throttled``: attempts refused by the login delay, kept for the
  audit trail (:mod:`copyseal.review._throttle`).

Mirrors :mod:`copyseal.db.schema.review`.

Revision ID: 0015_review_indexes
Revises: 0014_distributed
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_review_indexes"
down_revision = "0014_distributed"
branch_labels = None
depends_on = None

_MatchKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# The newest decision wins: a decision only replaces a lower decision id, so concurrent
# inserts on one match (PostgreSQL re-checks the WHERE on the latest row version under
# the row lock) and inserts out of id order leave the newest.
_UPSERT = """
INSERT INTO review_status (match_id, decision_id, decision, decided_at)
VALUES (NEW.match_id, NEW.id, NEW.decision, NEW.decided_at)
ON CONFLICT (match_id) DO UPDATE SET
    decision_id = excluded.decision_id,
    decision = excluded.decision,
    decided_at = excluded.decided_at
WHERE review_status.decision_id < excluded.decision_id;
"""

_SQLITE_TRIGGER = f"""
CREATE TRIGGER review_status_on_decision AFTER INSERT ON review_decisions
BEGIN
{_UPSERT}
END
"""

_PG_FUNCTION = f"""
CREATE FUNCTION review_status_on_decision() RETURNS trigger AS $$
BEGIN
{_UPSERT}
RETURN NEW;
END
$$ LANGUAGE plpgsql
"""

_PG_TRIGGER = """
CREATE TRIGGER review_status_on_decision AFTER INSERT ON review_decisions
FOR EACH ROW EXECUTE FUNCTION review_status_on_decision()
"""

_BACKFILL = """
INSERT INTO review_status (match_id, decision_id, decision, decided_at)
SELECT d.match_id, d.id, d.decision, d.decided_at FROM review_decisions d
WHERE NOT EXISTS (
    SELECT 1 FROM review_decisions n WHERE n.match_id = d.match_id AND n.id > d.id
)
"""


def upgrade() -> None:
    op.add_column(
        "review_login_attempts",
        sa.Column("throttled", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "review_status",
        sa.Column("match_id", _MatchKey, nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(24), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["crawl_matches.id"],
            name=op.f("fk_review_status_match_id_crawl_matches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("match_id", name=op.f("pk_review_status")),
    )
    op.create_index(op.f("ix_review_status_decision"), "review_status", ["decision"])
    op.create_index("ix_crawl_matches_found_at", "crawl_matches", ["found_at", "id"])
    op.create_index("ix_crawl_matches_score", "crawl_matches", ["score", "found_at", "id"])
    op.execute(_BACKFILL)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
    else:
        op.execute(_SQLITE_TRIGGER)


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER review_status_on_decision"
        + (" ON review_decisions" if op.get_bind().dialect.name == "postgresql" else "")
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION review_status_on_decision()")
    op.drop_index("ix_crawl_matches_score", table_name="crawl_matches")
    op.drop_index("ix_crawl_matches_found_at", table_name="crawl_matches")
    op.drop_index(op.f("ix_review_status_decision"), table_name="review_status")
    op.drop_table("review_status")
    with op.batch_alter_table("review_login_attempts") as batch:
        batch.drop_column("throttled")
