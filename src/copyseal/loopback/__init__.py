"""Local stand-ins for the outside parties anchoring talks to, on 127.0.0.1 only.

For the demo, the benchmarks and the tests: :class:`AnvilNode` runs anvil (Foundry's local
EVM node, which ``make setup`` installs under ``.cache/``) and :class:`LoopbackTsa` serves
an RFC 3161 time-stamping authority built on ``openssl ts -reply`` under a CA that
:func:`make_pki` creates. Neither is fit for evidence anyone else must trust: anvil's
development keys are public and the TSA's CA is made on the spot.

Importing the package starts nothing and loads no web3.
"""

from __future__ import annotations

from copyseal.loopback.anvil import (
    CHAIN_ID,
    DEV_ADDRESSES,
    DEV_KEYS,
    AnvilNode,
    anvil_binary,
    require_anvil,
)
from copyseal.loopback.errors import LoopbackError
from copyseal.loopback.tsa import POLICY, LoopbackTsa, TsaPki, make_pki

__all__ = [
    "CHAIN_ID",
    "DEV_ADDRESSES",
    "DEV_KEYS",
    "POLICY",
    "AnvilNode",
    "LoopbackError",
    "LoopbackTsa",
    "TsaPki",
    "anvil_binary",
    "make_pki",
    "require_anvil",
]
