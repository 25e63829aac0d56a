"""Licence market benchmark: the gas of ``offer``, ``buy`` and ``withdraw`` on the market
contract, and what each costs at a given gas price.

Run: ``.venv/bin/python benchmarks/market.py [--repeat 5] [--gas-price-gwei 1] [--json]``

Everything is real and on loopback: anvil (Foundry's EVM node, ``make setup`` installs it
into ``.cache/``) with the shipped market contract deployed from development key 0, which
also makes the offers; key 1 buys. The first call of a function may write a storage slot
from zero (``buy``'s re-entrancy lock on an EVM without transient storage: the contract
targets London), which costs more, so the report shows the first call and the median of
the rest. ``buy`` includes the payment forwarded to the author in the same transaction.
Measured on anvil 1.7.1: offer ≈ 142,000 gas, buy ≈ 49,000 (69,000 the first time),
withdraw ≈ 34,000, deploy ≈ 395,000.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="calls of each function")
    parser.add_argument("--gas-price-gwei", type=float, default=1.0, help="for the cost column")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser.parse_args(argv)


def measure(repeat: int) -> dict[str, list[int]]:
    """Gas used by each of ``repeat`` calls of offer, buy and withdraw on a fresh contract."""
    from copyseal.loopback import DEV_KEYS, AnvilNode, require_anvil
    from copyseal.market import MarketChain, licensee_hash, read_key

    gas: dict[str, list[int]] = {"deploy": [], "offer": [], "buy": [], "withdraw": []}
    with tempfile.TemporaryDirectory() as tmp, AnvilNode(require_anvil()) as anvil:
        keys = []
        for i in (0, 1):
            path = Path(tmp) / f"dev-{i}.key"
            path.write_text(DEV_KEYS[i], encoding="ascii")
            path.chmod(0o600)
            keys.append(read_key(path))
        author, buyer = keys
        chain = MarketChain(rpc_url=anvil.url, chain_id=anvil.chain_id)
        deployed = chain.deploy(author)
        assert deployed.contract is not None
        market = deployed.contract
        gas["deploy"].append(deployed.gas_used)
        claim = licensee_hash("Bench Ltd", ["bench.example"])
        for n in range(repeat):
            work = n.to_bytes(32, "big")
            sent = chain.call(author, market, "offer", work, 10**15, 86_400 * 30, bytes(32))
            gas["offer"].append(sent.gas_used)
            offer_id = chain.offer_made(market, sent)
            gas["buy"].append(
                chain.call(buyer, market, "buy", offer_id, claim, value=10**15).gas_used
            )
            gas["withdraw"].append(chain.call(author, market, "withdraw", offer_id).gas_used)
    return gas


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    gas = measure(max(args.repeat, 2))
    rows: list[dict[str, Any]] = []
    for name, used in gas.items():
        typical = int(statistics.median(used[1:] or used))
        rows.append(
            {
                "function": name,
                "first_gas": used[0],
                "median_gas": typical,
                "cost_eth": typical * args.gas_price_gwei * 1e-9,
            }
        )
    if args.json:
        print(json.dumps({"gas_price_gwei": args.gas_price_gwei, "results": rows}, indent=2))
        return 0
    price = f"ETH at {args.gas_price_gwei:g} gwei"
    print(f"{'function':<10} {'first gas':>10} {'median gas':>11} {price:>18}")
    for row in rows:
        print(
            f"{row['function']:<10} {row['first_gas']:>10,} {row['median_gas']:>11,}"
            f" {row['cost_eth']:>18.9f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
