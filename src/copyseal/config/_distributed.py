"""The ``distributed`` section: the Redis that holds distributed crawls' frontiers, and
how long a silent worker keeps its pages."""

from __future__ import annotations

from pydantic import Field, field_validator

from copyseal.config._base import _Section

__all__ = ["DistributedSettings"]


class DistributedSettings(_Section):
    """``copyseal crawl --distributed`` and ``copyseal worker``: the frontier and duplicate
    filter live in Redis (scrapy-redis); the database (PostgreSQL) stays the record."""

    #: The Redis server of the frontiers (``redis://`` or ``rediss://``, with a db number).
    redis_url: str = "redis://127.0.0.1:6379/0"
    #: A worker not heard from for this long is dead: its pages in flight and its seal
    #: claims are taken by the others (workers beat every third of it).
    lease_seconds: float = Field(default=30.0, gt=0)
    #: Times a page or a seal is taken before it is recorded as failed and skipped.
    max_attempts: int = Field(default=3, ge=1)

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, v: str) -> str:
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return v
