"""Storage: SQLAlchemy models, engines and Alembic migrations."""

from copyseal.db.base import Base
from copyseal.db.session import create_engine, current_revision, head_revision, upgrade

__all__ = ["Base", "create_engine", "current_revision", "head_revision", "upgrade"]
