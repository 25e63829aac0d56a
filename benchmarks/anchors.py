"""Anchoring benchmark: gas per anchor and per covered entry, latency per anchor kind, the
verify time of a bundle with its anchor proof, and what anchoring costs a day.

Run: ``.venv/bin/python benchmarks/anchors.py [--repeat 5] [--gas-price-gwei 1]``

Everything is real and on loopback: anvil (Foundry's EVM node, ``make setup`` installs it
into ``.cache/``) with the anchor contract deployed from its development key 0, a TSA
built on ``openssl ts -reply`` (:mod:`copyseal.loopback`), a witness run as
``copyseal witness serve`` in a child process, and a SQLite ledger. One anchor commits a
checkpoint, which covers every entry up to its size, so the gas of an EVM anchor is the
same whatever the batch: checkpoints 1, 100 and 10,000 entries apart show its cost per
entry falling. Baselines in the same run: the ledger's own anchor (its signed checkpoint,
no outside party) and the plain verification of a receipt.

Target (issue 12): verify a bundle with its anchor proof offline in ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from copyseal import db
from copyseal.anchors import Anchor, AnchorContext, AnchorRecord, anchor_for
from copyseal.anchors.proof_file import (
    AnchoredCheckpoint,
    ProofEntry,
    ProofFile,
    format_proof_file,
    verify_proof_file,
)
from copyseal.bundle import EvidenceFile, write_bundle
from copyseal.bundle.anchored import receipt_checkpoint, with_anchor_proof
from copyseal.bundle.check import verify_bundle
from copyseal.db.base import Base
from copyseal.db.schema.ledger import ledger_tables
from copyseal.ledger import Ledger, verify_receipt
from copyseal.ledger.checkpoint import Checkpoint
from copyseal.ledger.note import NoteSigner
from copyseal.loopback import DEV_KEYS, AnvilNode, LoopbackTsa, make_pki, require_anvil

ORIGIN = "copyseal.bench/anchors"
KEY = SigningKey(b"\x5b" * 32)
SIGNER = NoteSigner(name=ORIGIN, signing_key=KEY)
BATCHES = (1, 100, 10_000)
KINDS = ("ledger", "evm", "rfc3161", "witness")


def ms(samples: list[float]) -> tuple[float, float, float]:
    """Median, 95th percentile and maximum of ``samples`` (seconds) in milliseconds."""
    ordered = sorted(s * 1000 for s in samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))], ordered[-1]


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t


def gas_of(record: AnchorRecord) -> int:
    return int(json.loads(record.payload)["gas_used"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class WitnessProcess:
    """``copyseal witness serve`` on a free loopback port, witnessing the benchmark's log."""

    def __init__(self, state: Path, log_vkey: str) -> None:
        copyseal = [sys.executable, "-m", "copyseal"]
        done = subprocess.run(
            [*copyseal, "witness", "vkey", "--state", str(state), "--json"],
            capture_output=True,
            text=True,
            check=True,
            cwd=state.parent,
        )
        self.vkey: str = json.loads(done.stdout)["vkey"]
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}/"
        serve = ["witness", "serve", "--host", "127.0.0.1", "--port", str(port)]
        self._process = subprocess.Popen(
            [*copyseal, *serve, "--state", str(state), "--log", f"{ORIGIN}={log_vkey}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=state.parent,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("copyseal witness serve did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)


def make_ledger(folder: Path) -> Ledger:
    engine = db.create_engine(f"sqlite:///{folder / 'ledger.db'}")
    Base.metadata.create_all(engine, tables=ledger_tables())
    return Ledger(engine=engine, origin=ORIGIN, signing_key=KEY)


def grow(ledger: Ledger, n: int) -> Checkpoint:
    """Append ``n`` entries in one batch (one checkpoint); that checkpoint."""
    start = ledger.size()
    ledger.append([("bench", b'{"n":%d}' % i) for i in range(start, start + n)])
    return ledger.latest_checkpoint().checkpoint


def build_anchors(
    folder: Path, ledger: Ledger, node: AnvilNode, tsa: LoopbackTsa, witness: WitnessProcess
) -> dict[str, Anchor]:
    """One anchor of each kind, able to anchor; the contract deployed fresh."""
    from copyseal.anchors.evm import EvmAnchor

    key_file = folder / "evm.key"
    key_file.write_text(DEV_KEYS[0] + "\n", encoding="ascii")
    key_file.chmod(0o600)
    chain = {"rpc_url": node.url, "chain_id": node.chain_id, "key_file": key_file}
    deployer = EvmAnchor.from_context(AnchorContext(vkey=SIGNER.vkey, options=chain))
    contract = deployer.deploy().contract
    base = AnchorContext.for_signer(SIGNER)

    def made(kind: str, name: str | None, options: dict[str, Any]) -> Anchor:
        context = AnchorContext(vkey=base.vkey, signer=SIGNER, name=name, options=options)
        return anchor_for(kind, context)

    return {
        "ledger": made("ledger", None, {}),
        "evm": made("evm", "anvil", {**chain, "contract": contract, "confirmations": 0}),
        "rfc3161": made("rfc3161", "tsa", {"url": tsa.url, "ca_file": str(tsa.pki.ca_cert)}),
        "witness": made(
            "witness",
            "witness",
            {"url": witness.url, "vkey": witness.vkey, "consistency": ledger.consistency_proof},
        ),
    }


def bench_gas(ledger: Ledger, evm: Anchor, repeat: int) -> tuple[int, dict[int, list[int]]]:
    """The first anchor's gas (fresh contract storage for the log), then per batch size
    the gas of ``repeat`` anchors of checkpoints that many entries apart."""
    first = gas_of(evm.anchor(grow(ledger, 1)))
    gas: dict[int, list[int]] = {}
    for batch in BATCHES:
        gas[batch] = [gas_of(evm.anchor(grow(ledger, batch))) for _ in range(repeat)]
    return first, gas


def bench_latency(
    ledger: Ledger, anchors: dict[str, Anchor], rounds: int
) -> dict[str, list[float]]:
    """Seconds per ``anchor()`` of each kind, one new checkpoint (one entry) per round."""
    out: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for _ in range(rounds):
        checkpoint = grow(ledger, 1)
        for kind in KINDS:
            out[kind].append(timed(partial(anchors[kind].anchor, checkpoint))[1])
    return out


def sealed_bundle(folder: Path, ledger: Ledger, megabytes: float) -> tuple[Path, int, bytes]:
    """A bundle sealed into ``ledger`` without a browser: its folder, ledger index and
    manifest bytes (a random "screenshot" of ``megabytes`` MB and a page)."""
    page = b"<!doctype html><title>bench</title><img src=photo.jpg>" * 20
    info = write_bundle(
        root=folder / "bundles",
        url="http://127.0.0.1:8000/bench",
        captured_at=datetime(2026, 12, 5, 9, 0, tzinfo=UTC),
        files=[
            EvidenceFile(name="page/raw.html", media_type="text/html", data=page),
            EvidenceFile(
                name="screenshots/full.png",
                media_type="image/png",
                data=os.urandom(int(megabytes * 1_000_000)),
            ),
        ],
        match=None,
        capture={"status": 200, "final_url": "http://127.0.0.1:8000/bench"},
        signing_key=KEY,
        ledger=ledger,
    )
    return info.path, info.ledger_index, (info.path / "manifest.json").read_bytes()


def proof_file(
    ledger: Ledger, bundle: Path, anchors: dict[str, Anchor]
) -> tuple[bytes, dict[str, tuple[bytes, Checkpoint]]]:
    """The anchor proof file of ``bundle``: one more entry, then that checkpoint anchored
    by every kind; also each kind's proof and the anchored checkpoint."""
    start = receipt_checkpoint(bundle)
    anchored = grow(ledger, 1)
    entries, proofs = [], {}
    for kind in KINDS:
        proof = anchors[kind].prove(anchors[kind].anchor(anchored))
        entries.append(ProofEntry(kind=kind, name=anchors[kind].name, proof=proof))
        proofs[kind] = (proof, anchored)
    data = format_proof_file(
        ProofFile(
            bundle_id=bundle.name,
            origin=ORIGIN,
            size=start.size,
            root=start.root,
            anchored=(
                AnchoredCheckpoint(
                    size=anchored.size,
                    root=anchored.root,
                    note=ledger.latest_checkpoint().note,
                    consistency=tuple(ledger.consistency_proof(start.size, anchored.size)),
                    anchors=tuple(entries),
                ),
            ),
        )
    )
    return data, proofs


def bench_verify(
    ledger: Ledger,
    folder: Path,
    anchors: dict[str, Anchor],
    public: dict[str, dict[str, Any]],
    *,
    megabytes: float,
    samples: int,
) -> list[tuple[str, list[float]]]:
    """Seconds per verification: a receipt (baseline), each kind's anchor proof, the proof
    file, the bundle, the bundle with its proof file."""
    bundle, index, manifest = sealed_bundle(folder, ledger, megabytes)
    receipt = ledger.receipt(index)
    vkey = SIGNER.vkey
    data, proofs = proof_file(ledger, bundle, anchors)
    options = {kind: [public[kind]] for kind in ("rfc3161", "witness")}
    start = receipt_checkpoint(bundle)

    def whole() -> None:
        result = with_anchor_proof(verify_bundle(bundle, vkey=vkey), data, options=options)
        assert result.ok, [c for c in result.checks if not c.ok]

    def file_only() -> None:
        checks = verify_proof_file(data, checkpoint=start, vkey=vkey, options=options)
        assert all(c.ok for c in checks), checks

    def bundle_only() -> None:
        assert verify_bundle(bundle, vkey=vkey).ok

    cases: list[tuple[str, Callable[[], Any]]] = [
        ("receipt (baseline: verify_receipt)", lambda: verify_receipt(receipt, manifest, vkey)),
    ]
    for kind in KINDS:
        verifier = anchor_for(
            kind, AnchorContext(vkey=vkey, name=anchors[kind].name, options=public.get(kind, {}))
        )
        proof, checkpoint = proofs[kind]
        cases.append((f"  {kind} proof alone", partial(verifier.verify, proof, checkpoint)))
    cases += [
        ("anchor proof file (4 kinds)", file_only),
        (f"bundle ({megabytes:g} MB), no anchor proof", bundle_only),
        ("bundle + anchor proof file", whole),
    ]
    out = []
    for name, fn in cases:
        fn()  # warm: imports, caches
        out.append((name, [timed(fn)[1] for _ in range(samples)]))
    return out


def report(
    *,
    first: int,
    gas: dict[int, list[int]],
    latency: dict[str, list[float]],
    verify: list[tuple[str, list[float]]],
    args: argparse.Namespace,
) -> None:
    print("\nGas of an EVM anchor (anvil, confirmations 0): one anchor covers its whole batch")
    print(f"{'entries per checkpoint':>24} {'anchors':>8} {'gas/anchor':>11} {'gas/entry':>11}")
    print(f"{'first anchor of the log':>24} {1:>8} {first:>11,} {'-':>11}")
    for batch in BATCHES:
        g = int(statistics.median(gas[batch]))
        spread = f"  (min {min(gas[batch]):,}, max {max(gas[batch]):,})"
        print(f"{batch:>24,} {len(gas[batch]):>8} {g:>11,} {g / batch:>11,.1f}{spread}")
    print("ledger kind (baseline)   no transaction: 0 gas")

    print("\nAnchoring latency, one anchor() per new checkpoint (ms)")
    print(f"{'kind':<30} {'n':>4} {'median':>8} {'p95':>8} {'max':>8}")
    names = {
        "ledger": "ledger (baseline)",
        "evm": "evm (anvil, confirmations 0)",
        "rfc3161": "rfc3161 (openssl ts TSA)",
        "witness": "witness (copyseal witness)",
    }
    for kind in KINDS:
        med, p95, top = ms(latency[kind])
        print(f"{names[kind]:<30} {len(latency[kind]):>4} {med:>8.2f} {p95:>8.2f} {top:>8.2f}")

    print("\nOffline verification (ms; target for a bundle with its anchor proof: <= 50)")
    print(f"{'check':<36} {'n':>4} {'median':>8} {'p95':>8} {'max':>8}")
    for name, samples in verify:
        med, p95, top = ms(samples)
        print(f"{name:<36} {len(samples):>4} {med:>8.2f} {p95:>8.2f} {top:>8.2f}")

    steady = int(statistics.median([g for batch in BATCHES for g in gas[batch]]))
    per_day = 86_400 // args.every_seconds
    entries = args.pages_per_second * args.every_seconds
    gas_day = per_day * steady
    eth_day = gas_day * args.gas_price_gwei * 1e-9
    print(
        f"\nAt {args.pages_per_second:g} page/s (one ledger entry per sealed page) with"
        f" anchors.every_seconds = {args.every_seconds}:"
        f" {per_day} anchors a day per configured anchor, {entries:,.0f} entries each"
    )
    print(
        f"{'anchor':<20} {'anchors/day':>11} {'gas/anchor':>11} {'gas/entry':>10} {'gas/day':>12}"
    )
    print(f"{'ledger (baseline)':<20} {per_day:>11} {0:>11} {0:>10} {0:>12}")
    print(
        f"{'evm':<20} {per_day:>11} {steady:>11,} {steady / entries:>10,.1f} {gas_day:>12,}"
        f"   = {eth_day:.6f} ETH/day, {eth_day * 365:.4f} ETH/year"
    )
    print(f"{'rfc3161 / witness':<20} {per_day:>11}   (a time stamp / cosignature each; no gas)")
    print(
        f"assumed gas price: {args.gas_price_gwei:g} gwei (--gas-price-gwei); an L1 or L2 fee"
        " also has a data or L1 part this does not model"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5, help="anchors per batch size")
    parser.add_argument("--rounds", type=int, default=20, help="anchors per kind for latency")
    parser.add_argument("--samples", type=int, default=30, help="runs per verification")
    parser.add_argument("--bundle-mb", type=float, default=6.6, help="bundle payload size")
    parser.add_argument("--gas-price-gwei", type=float, default=1.0, help="assumed gas price")
    parser.add_argument("--pages-per-second", type=float, default=1.0)
    parser.add_argument("--every-seconds", type=int, default=600, help="anchors.every_seconds")
    args = parser.parse_args()

    print(f"load average at start: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="bench-anchors-") as tmp:
        folder = Path(tmp)
        ledger = make_ledger(folder)
        pki = make_pki(folder / "tsa", key_type="rsa", label="Bench", organization="copyseal bench")
        (folder / "witness").mkdir()
        with AnvilNode(require_anvil()) as node, LoopbackTsa(pki) as tsa:
            witness = WitnessProcess(folder / "witness" / "state", SIGNER.vkey)
            try:
                anchors = build_anchors(folder, ledger, node, tsa, witness)
                public = {
                    "rfc3161": {"ca_file": str(pki.ca_cert)},
                    "witness": {"vkey": witness.vkey},
                }
                first, gas = bench_gas(ledger, anchors["evm"], args.repeat)
                latency = bench_latency(ledger, anchors, args.rounds)
                verify = bench_verify(
                    ledger,
                    folder,
                    anchors,
                    public,
                    megabytes=args.bundle_mb,
                    samples=args.samples,
                )
            finally:
                witness.stop()
    report(first=first, gas=gas, latency=latency, verify=verify, args=args)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    try:
        main()
    except (urllib.error.URLError, subprocess.CalledProcessError) as e:
        sys.exit(f"anchors benchmark: {e}")
