"""Review app under load: 50 reviewers at once on 10^5 matches, SQLite and PostgreSQL.

Run: ``.venv/bin/python benchmarks/review_load.py [--matches 100000] [--reviewers 50]
[--duration 60] [--think 2] [--postgres]`` (``--quick``: 2,000 matches, 5 reviewers, 8 s).

Each database gets a fresh workspace seeded in bulk with ``review_queue.populate`` (N
matches on 200 sites, 60 % decided, 1 % in cases), reviewer accounts, and the app served
by ``copyseal serve`` in its own process (one uvicorn worker, as shipped). Reviewers are
asyncio tasks with their own httpx client and session; each repeats, with ``--think``
seconds between steps (reading the page):

1. **queue** — ``GET /queue?status=new&page=K`` (the HTML page: counts, sites, 50 rows;
   K in 1-5 so reviewers spread over the first pages),
2. **match** — ``GET /matches/ID`` of a match on that page,
3. **decide** — ``POST /matches/ID/decide`` (the form: confirm, reject or needs more info;
   the decision is appended to the ledger), which answers 303.

Any other status, or a transport error, is an error. Latencies are per request, from
sending to the whole body; p50/p99 per step. The baseline is one reviewer without think
time, measured in the same run on the same data (the latency with no one else around).
Reviewers start spread over one think time.
The load generator runs on the same machine as the server, so on a small machine both
share the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nacl.pwhash

from copyseal.review import users
from copyseal.workspace import Workspace

STEPS = ("queue", "match", "decide")
_MATCH_LINK = re.compile(r'href="/matches/(\d+)\?')


@dataclass
class Tally:
    """Latencies (seconds) per step, errors per step, and requests done."""

    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    examples: list[str] = field(default_factory=list)

    def record(self, step: str, seconds: float, ok: bool, what: str = "") -> None:
        self.times[step].append(seconds)
        if not ok:
            self.errors[step] += 1
            if len(self.examples) < 5:
                self.examples.append(f"{step}: {what}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(config: Path, port: int) -> subprocess.Popen[bytes]:
    """``copyseal serve`` on 127.0.0.1:port, once it answers."""
    server = subprocess.Popen(
        [sys.executable, "-m", "copyseal", "--config", str(config), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"copyseal serve exited: {server.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.kill()
    raise SystemExit("copyseal serve did not start within 60 s")


def _analyze(ws: Workspace) -> None:
    """PostgreSQL: what autovacuum does after a bulk insert (table statistics, visibility
    map), at once rather than within its next minute. Without statistics the planner
    takes the freshly seeded tables for a third of their size and joins every match to
    sort them (~300 ms a queue view) instead of walking the queue's index (~1 ms)."""
    if ws.engine.dialect.name != "postgresql":
        return
    with ws.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")


def _accounts(ws: Workspace, n: int) -> list[tuple[str, str]]:
    """``n`` reviewer accounts. Hashed at the cheapest Argon2id cost: logging in is not
    what is measured (the hash carries its cost, so the server checks it cheaply too)."""
    users.OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_MIN
    users.MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_MIN
    out = []
    for k in range(n):
        name, password = f"rev{k:03d}", f"password-{k:03d}"
        users.add_user(ws, name=name, role="reviewer", password=password)
        out.append((name, password))
    return out


async def _timed(tally: Tally, step: str, call: object, expect: int) -> httpx.Response | None:
    t0 = time.perf_counter()
    try:
        response: httpx.Response = await call  # type: ignore[misc]
    except httpx.HTTPError as e:
        tally.record(step, time.perf_counter() - t0, False, f"{type(e).__name__}: {e}")
        return None
    ok = response.status_code == expect
    tally.record(step, time.perf_counter() - t0, ok, f"HTTP {response.status_code}")
    return response if ok else None


async def _reviewer(
    base: str, account: tuple[str, str], tally: Tally, *, until: float, think: float, seed: int
) -> None:
    rnd = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        login = await client.post("/api/login", json={"name": account[0], "password": account[1]})
        login.raise_for_status()
        csrf = login.json()["csrf_token"]

        async def pause() -> None:
            if think:
                await asyncio.sleep(rnd.uniform(0.5 * think, 1.5 * think))

        # Reviewers arrive spread over one think time (as locust's spawn rate does), not
        # all in the same millisecond: 50 simultaneous first views would measure the
        # start-up herd, not the steady state.
        await pause()
        while time.monotonic() < until:
            page = await _timed(
                tally,
                "queue",
                client.get("/queue", params={"status": "new", "page": rnd.randint(1, 5)}),
                200,
            )
            ids = [int(i) for i in _MATCH_LINK.findall(page.text)] if page else []
            if not ids:
                await pause()
                continue
            match_id = rnd.choice(ids)
            await pause()
            await _timed(tally, "match", client.get(f"/matches/{match_id}"), 200)
            await pause()
            decision = rnd.choice(("confirmed", "rejected", "needs-more-info"))
            form = {"csrf_token": csrf, "decision": decision, "comment": "load test"}
            if decision == "rejected":
                form["reason"] = "false-match"
            await _timed(
                tally, "decide", client.post(f"/matches/{match_id}/decide", data=form), 303
            )
            await pause()


async def _run(
    base: str, accounts: list[tuple[str, str]], *, seconds: float, think: float
) -> tuple[Tally, float]:
    tally = Tally()
    t0 = time.monotonic()
    until = t0 + seconds
    await asyncio.gather(
        *(
            _reviewer(base, a, tally, until=until, think=think, seed=k)
            for k, a in enumerate(accounts)
        )
    )
    return tally, time.monotonic() - t0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc/PID/stat``, fields 14
    and 15 in clock ticks; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ms(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.0f}"


def _rows(kind: str, label: str, tally: Tally, elapsed: float) -> list[str]:
    rows = []
    for step in STEPS:
        times = tally.times.get(step, [])
        median = f"{statistics.median(times) * 1000:.0f}" if times else "-"
        rows.append(
            f"{kind:<9} {label:<13} {step:<7} {len(times):>6} {median:>6} {_ms(times, 0.99):>6}"
            f" {_ms(times, 1.0):>7} {tally.errors.get(step, 0):>6} {len(times) / elapsed:>7.1f}"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matches", type=int, default=100_000)
    parser.add_argument("--reviewers", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds under load")
    parser.add_argument("--think", type=float, default=2.0, help="mean seconds between steps")
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds of one reviewer")
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL")
    parser.add_argument("--only-postgres", action="store_true", help="only on PostgreSQL")
    parser.add_argument("--quick", action="store_true", help="2,000 matches, 5 reviewers, 8 s")
    args = parser.parse_args()
    if args.quick:
        args.matches, args.reviewers, args.duration, args.baseline = 2_000, 5, 8.0, 3.0
    sys.path.insert(0, str(Path(__file__).parent))
    from review_queue import populate, workspace

    kinds = ["postgres"] if args.only_postgres else ["sqlite"] + (["postgres"] * args.postgres)
    header = (
        f"{'database':<9} {'run':<13} {'step':<7} {'n':>6} {'p50':>6} {'p99':>6} {'max':>7}"
        f" {'errors':>6} {'req/s':>7}"
    )
    print(f"{args.matches:,} matches; {args.reviewers} reviewers, think {args.think} s; ms")
    print(header)
    print("-" * len(header))
    for kind in kinds:
        with workspace(kind) as ws:
            t0 = time.perf_counter()
            populate(ws, args.matches)
            seeded = time.perf_counter() - t0
            _analyze(ws)
            accounts = _accounts(ws, args.reviewers)
            config = ws.settings.source
            assert config is not None
            port = _free_port()
            server = _serve(config, port)
            try:
                base = f"http://127.0.0.1:{port}"
                runs = (("1, no think", 1, args.baseline, 0.0),)
                runs += (
                    (f"{args.reviewers} reviewers", args.reviewers, args.duration, args.think),
                )
                for label, n, seconds, think in runs:
                    cpu = _cpu_seconds(server.pid)
                    tally, elapsed = asyncio.run(
                        _run(base, accounts[:n], seconds=seconds, think=think)
                    )
                    cpu = _cpu_seconds(server.pid) - cpu
                    for row in _rows(kind, label, tally, elapsed):
                        print(row, flush=True)
                    done = sum(len(t) for t in tally.times.values())
                    print(f"  server CPU: {cpu * 1000 / max(done, 1):.1f} ms per request")
                    for example in tally.examples:
                        print(f"  error: {example}")
            finally:
                server.terminate()
                server.wait(timeout=30)
            print(f"  ({kind}: seeded {args.matches:,} matches in {seeded:.1f} s)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (cores: {os.cpu_count()})")


if __name__ == "__main__":
    main()
