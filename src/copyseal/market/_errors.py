"""The market's error."""

from __future__ import annotations

from copyseal.errors import CopysealError

__all__ = ["MarketError"]


class MarketError(CopysealError):
    """The licence market failed: configuration, the node, a claim, or the contract refused."""
