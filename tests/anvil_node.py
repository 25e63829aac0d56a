"""A real EVM node on loopback for tests: :mod:`copyseal.loopback.anvil` (anvil, as
``make setup`` installs it under ``.cache/``), re-exported under the name the tests import.
:data:`DEV_KEYS` are anvil's public development keys."""

from __future__ import annotations

from copyseal.loopback.anvil import CHAIN_ID, DEV_ADDRESSES, DEV_KEYS, AnvilNode, anvil_binary

__all__ = ["CHAIN_ID", "DEV_ADDRESSES", "DEV_KEYS", "AnvilNode", "anvil_binary"]
