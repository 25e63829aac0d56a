"""Ledger benchmark: append rate, proof generation and verification at 10^3 … 10^6 leaves.

Run: ``.venv/bin/python benchmarks/ledger.py [--max-exp 6] [--batch 10000]``

One SQLite file database (WAL, ``synchronous=NORMAL``: the settings copyseal uses) grows
to each size in batches; at each size we time inclusion proofs for random leaves (store
reads included), their verification (RFC 9162 §2.1.3.2 alone, and a whole offline receipt
check with the Ed25519 signature), and a full audit. Baselines in the same run: row-by-row
ORM inserts (one transaction per leaf) and proofs recomputed from all leaf hashes.

Targets (issue 4): append ≥ 20,000 leaves/s; proof ≤ 5 ms at 10^6; verify ≤ 1 ms;
proof size 32 × ⌈log2 n⌉ bytes.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from nacl.signing import SigningKey
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from copyseal.db.base import Base
from copyseal.db.schema.ledger import ENTRIES, LedgerEntry, LedgerSubtree, ledger_tables
from copyseal.db.session import create_engine
from copyseal.ledger import Ledger, verify_receipt
from copyseal.ledger import statements as st
from copyseal.ledger.merkle import (
    RightEdge,
    inclusion_proof,
    leaf_hash,
    verify_inclusion,
)

ORIGIN = "copyseal.bench/ledger"
KEY = SigningKey(b"\x5a" * 32)
WHEN = datetime(2026, 11, 25, tzinfo=UTC)


def statement(i: int) -> bytes:
    """A realistic leaf (~330 bytes): a work registration."""
    return st.work_registration(
        work_id=f"w_{i:020x}",
        owner="Ana Photographer <ana@example.com>",
        title=f"Harbour at dusk, series B, frame {i}",
        original_sha256=leaf_hash(b"o%d" % i).hex(),
        fingerprints_digest=leaf_hash(b"f%d" % i).hex(),
        time=WHEN,
    )


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and 95th percentile wall time of ``fn`` in milliseconds."""
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def baseline_orm(path: Path, n: int) -> float:
    """Leaves/s appending one leaf per ORM transaction (what not to do)."""
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine, tables=ledger_tables())
    edge = RightEdge()
    t = time.perf_counter()
    with Session(engine) as session:
        for i in range(n):
            data = statement(i)
            h = leaf_hash(data)
            closed: list[tuple[int, int, bytes]] = []
            edge.append(h, closed)
            session.add(
                LedgerEntry(
                    leaf_index=i,
                    entry_type="work-registration",
                    leaf_data=data,
                    leaf_hash=h,
                    integrated_at=datetime.now(UTC),
                )
            )
            for level, index, node in closed:
                session.add(LedgerSubtree(level=level, node_index=index, hash=node))
            session.commit()
    rate = n / (time.perf_counter() - t)
    engine.dispose()
    return rate


def recompute_proof(engine: Engine, index: int, size: int) -> list[bytes]:
    """Baseline: read every leaf hash and rebuild the tree to answer one proof."""
    with engine.connect() as conn:
        hashes = conn.execute(select(ENTRIES.c.leaf_hash).order_by(ENTRIES.c.leaf_index))
        store: dict[tuple[int, int], bytes] = {}
        edge = RightEdge()
        closed: list[tuple[int, int, bytes]] = []
        for k, h in enumerate(hashes.scalars()):
            store[(0, k)] = bytes(h)
            edge.append(bytes(h), closed)
    store.update(((lv, x), node) for lv, x, node in closed)
    return inclusion_proof(index, size, lambda keys: [store[k] for k in keys])


def measure(
    ledger: Ledger, engine: Engine, size: int, rng: random.Random, samples: int
) -> dict[str, str]:
    """Proof, verification and audit figures for the log at its current ``size``."""
    indices = iter([rng.randrange(size) for _ in range(samples)])
    gen_med, gen_p95 = timed(lambda: ledger.inclusion_proof(next(indices)), samples)
    root = ledger.latest_checkpoint().root
    vkey = ledger.vkey()
    cases = []
    for _ in range(50):
        i = rng.randrange(size)
        cases.append((i, statement(i), ledger.inclusion_proof(i), ledger.receipt(i)))
    plain = iter(cases * 3)

    def verify_one() -> None:
        i, data, proof, _ = next(plain)
        verify_inclusion(leaf_hash=leaf_hash(data), index=i, size=size, proof=proof, root=root)

    full = iter(cases * 3)

    def verify_full() -> None:
        _, data, _, receipt = next(full)
        verify_receipt(receipt, data, vkey)

    ver_med, _ = timed(verify_one, 150)
    rec_med, _ = timed(verify_full, 150)
    t = time.perf_counter()
    report = ledger.audit()
    audit_s = time.perf_counter() - t
    assert report.ok, report.problem
    recompute = "-"
    if size <= 10_000:
        med, _ = timed(lambda: recompute_proof(engine, rng.randrange(size), size), 5)
        recompute = f"{med:.2f}"
    proof_bytes = max(32 * len(c[2]) for c in cases)
    return {
        "proof ms med/p95": f"{gen_med:.3f} / {gen_p95:.3f}",
        "recompute ms": recompute,
        "verify ms": f"{ver_med:.3f}",
        "receipt ms": f"{rec_med:.3f}",
        "proof B / 32*ceil(log2 n)": f"{proof_bytes} / {32 * math.ceil(math.log2(size))}",
        "audit s": f"{audit_s:.1f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--max-exp", type=int, default=6, help="largest size is 10**N")
    parser.add_argument("--batch", type=int, default=10_000, help="leaves per append batch")
    parser.add_argument("--samples", type=int, default=300, help="proofs timed per size")
    args = parser.parse_args()
    rng = random.Random(4)
    rows: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="copyseal-bench-") as tmp:
        orm_n = 2_000
        orm_rate = baseline_orm(Path(tmp) / "orm.db", orm_n)
        db_path = Path(tmp) / "ledger.db"
        engine = create_engine(f"sqlite:///{db_path}")
        Base.metadata.create_all(engine, tables=ledger_tables())
        ledger = Ledger(engine=engine, origin=ORIGIN, signing_key=KEY)
        size = 0
        for exp in range(3, args.max_exp + 1):
            target, append_s, appended = 10**exp, 0.0, 0
            while size < target:
                n = min(args.batch, target - size)
                batch = [("work-registration", statement(size + i)) for i in range(n)]
                t = time.perf_counter()
                ledger.append(batch)
                append_s += time.perf_counter() - t
                appended, size = appended + n, size + n
            row = {"leaves": f"10^{exp}", "append leaves/s": f"{appended / append_s:,.0f}"}
            row.update(measure(ledger, engine, size, rng, args.samples))
            row["db MiB"] = f"{db_path.stat().st_size / 2**20:,.0f}"
            rows.append(row)
        engine.dispose()

    head = list(rows[0])
    widths = [max(len(h), *(len(r[h]) for r in rows)) for h in head]
    print(" | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(r[h].rjust(w) for h, w in zip(head, widths, strict=True)))
    print()
    print(
        f"baseline: row-by-row ORM append (one transaction per leaf, n={orm_n}):"
        f" {orm_rate:,.0f} leaves/s"
    )
    print(
        f"batches of {args.batch:,}; SQLite WAL, synchronous=NORMAL; leaves ~{len(statement(0))} B;"
        " proof = store reads + assembly; verify = RFC 9162 §2.1.3.2 only; receipt = parse +"
        " Ed25519 + inclusion; recompute = baseline proof rebuilt from all leaf hashes in the"
        " database"
    )


if __name__ == "__main__":
    main()
