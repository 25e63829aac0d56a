"""A real EVM node for the market's tests: one anvil on loopback for the session
(:mod:`copyseal.loopback.anvil`), and a fresh market contract per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from copyseal.loopback.anvil import DEV_KEYS, AnvilNode, anvil_binary
from copyseal.market import MarketChain, read_key


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilNode]:
    """One anvil on loopback; skipped without it, except under CI."""
    binary = anvil_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("anvil is not installed: run `make anvil`")
        pytest.skip("anvil is not installed (`make anvil` fetches it)")
    with AnvilNode(binary) as node:
        yield node


def key_file(folder: Path, index: int) -> Path:
    """Anvil's ``index``-th development key (a public test key) in a 0600 file."""
    path = folder / f"dev-{index}.key"
    path.write_text(DEV_KEYS[index] + "\n", encoding="ascii")
    path.chmod(0o600)
    return path


@pytest.fixture
def chain(anvil: AnvilNode) -> MarketChain:
    return MarketChain(rpc_url=anvil.url, chain_id=anvil.chain_id)


@pytest.fixture
def market(chain: MarketChain, tmp_path: Path) -> str:
    """A fresh market contract, deployed by development account 0."""
    sent = chain.deploy(read_key(key_file(tmp_path, 0)))
    assert sent.contract is not None
    return sent.contract
