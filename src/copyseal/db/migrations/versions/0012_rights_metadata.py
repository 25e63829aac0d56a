"""Rights metadata: the original's copyright management information, read at registration.

Adds ``rights_metadata`` (canonical JSON text of the EXIF/IPTC/XMP rights fields and the
C2PA state; null for works registered before, whose originals were not read) to
``works``. Mirrors :mod:`copyseal.db.schema.works`.

Revision ID: 0012_rights_metadata
Revises: 0011_licences
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_rights_metadata"
down_revision = "0011_licences"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("works") as batch:
        batch.add_column(sa.Column("rights_metadata", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("works") as batch:
        batch.drop_column("rights_metadata")
