"""The ``market`` section: which chain the licence market contract lives on."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from copyseal.config._base import _Section

__all__ = ["MarketSettings"]


class MarketSettings(_Section):
    """The licence market (``copyseal market``): its chain is one of the EVM anchors'
    chains (``anchors.evm.NAME``: ``rpc_url``, ``chain_id``, ``key_file``)."""

    #: The ``anchors.evm`` entry whose chain and key the market uses; null: the only one.
    chain: str | None = None
    #: The market contract's address; null: the one ``copyseal market deploy NAME``
    #: deployed and the workspace remembers.
    contract: str | None = None

    @field_validator("contract", mode="before")
    @classmethod
    def _address(cls, v: Any) -> Any:
        # YAML reads an unquoted 0x… address as a hexadecimal integer; an address is 20
        # bytes, so its 40 hex digits come back exactly.
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 160:
            return f"0x{v:040x}"
        return v
