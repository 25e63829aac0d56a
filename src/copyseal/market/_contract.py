"""The licence market contract: ``Market.vy`` and the ``market_contract.json`` shipped
beside it, compiled with the anchor contract's pinned Vyper and settings (EVM London) and
loaded through the same loader (:func:`copyseal.anchors.evm.load_compiled`).

To rebuild the JSON after changing the source (needs the pinned ``vyper``):
``python -c 'from copyseal.market import _contract; _contract.write_compiled()'``.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from copyseal.anchors.evm import Contract, compile_source, load_compiled, write_json

__all__ = ["LICENCE_SOLD", "OFFER_MADE", "OFFER_WITHDRAWN", "shipped", "source", "write_compiled"]

_PACKAGE = "copyseal.market"
_SOURCE = "Market.vy"
_COMPILED = "market_contract.json"

#: The events' signatures (``topics[0]`` is keccak256 of each).
LICENCE_SOLD = "LicenceSold(uint256,bytes32,address,bytes32,uint256,uint64)"
OFFER_MADE = "OfferMade(uint256,bytes32,address,uint256,uint64,bytes32)"
OFFER_WITHDRAWN = "OfferWithdrawn(uint256,bytes32)"


def source() -> str:
    """The contract's Vyper source, as shipped."""
    return resources.files(_PACKAGE).joinpath(_SOURCE).read_text(encoding="utf-8")


@cache
def shipped() -> Contract:
    """The compiled market contract shipped with copyseal."""
    return load_compiled(_PACKAGE, _COMPILED)


def write_compiled() -> None:
    """Compile the source and write ``market_contract.json`` beside it."""
    path = Path(__file__).with_name(_COMPILED)
    write_json(compile_source(source()), path, name="Market")
