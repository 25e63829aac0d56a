"""The ledger store on real databases (SQLite and PostgreSQL): appends, proofs, receipts,
audits that catch tampering, and crashes that leave the log at a checkpoint."""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from nacl.signing import SigningKey
from sqlalchemy import Engine, MetaData, delete, insert, update

import copyseal.ledger
from copyseal.db import session as db
from copyseal.db.base import Base
from copyseal.db.schema.ledger import CHECKPOINTS, ENTRIES, SUBTREES, ledger_tables
from copyseal.errors import LedgerError, VerificationError
from copyseal.ledger import Ledger, verify_receipt
from copyseal.ledger._merkle import EMPTY_ROOT, inclusion_proof, leaf_hash, tree_root
from copyseal.ledger.checkpoint import Checkpoint
from copyseal.ledger.note import NoteSigner
from copyseal.ledger.proof import parse_receipt, verify_checkpoint_consistency

from ._crash_child import KEY as CHILD_KEY
from ._crash_child import ORIGIN as CHILD_ORIGIN
from ._util import MemoryTree

ORIGIN = "copyseal.test/ledger"
KEY = SigningKey(b"\x11" * 32)
BATCHES = (1, 6, 30)  # checkpoints at 1, 7 and 37 leaves
SIZES = (1, 7, 37)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = db.create_engine(database_url)
    Base.metadata.create_all(eng, tables=ledger_tables())
    yield eng
    eng.dispose()


def _leaves(n: int, start: int = 0) -> list[bytes]:
    return [b'{"n":%d,"type":"test"}' % i for i in range(start, start + n)]


@pytest.fixture
def filled(engine: Engine) -> Ledger:
    ledger = Ledger(engine=engine, origin=ORIGIN, signing_key=KEY)
    start = 0
    for n in BATCHES:
        assert ledger.append([("test", d) for d in _leaves(n, start)]) == list(
            range(start, start + n)
        )
        start += n
    return ledger


def test_exported_members() -> None:
    assert copyseal.ledger.__all__ == [
        "AuditProblem",
        "AuditReport",
        "Checkpoint",
        "Entry",
        "Ledger",
        "LedgerStatus",
        "Receipt",
        "SignedCheckpoint",
        "leaf_hash",
        "verify_receipt",
    ]
    assert copyseal.ledger.Ledger is Ledger


def test_nothing_in_the_code_updates_or_deletes() -> None:
    package = Path(copyseal.ledger.__file__).parent
    for module in package.glob("*.py"):
        source = module.read_text(encoding="utf-8")
        # SQLAlchemy's update()/delete() constructs or raw SQL (dict.update is fine).
        assert not re.search(r"(?<![.\w])(update|delete)\(|\bUPDATE\b|\bDELETE\b", source), module


def test_appends_prove_and_sign(filled: Ledger) -> None:
    leaves = _leaves(37)
    tree = MemoryTree(leaves)
    latest = filled.latest_checkpoint()
    assert (latest.size, latest.root) == (37, tree_root(37, tree.read))
    assert latest.issued_at is not None and latest.issued_at.tzinfo is not None
    assert [c.size for c in filled.checkpoints()] == list(SIZES)
    for i, data in enumerate(leaves):
        assert verify_receipt(filled.receipt(i), data, filled.vkey()).size == 37
        for size in SIZES:
            if i < size:
                assert filled.inclusion_proof(i, size) == inclusion_proof(i, size, tree.read)
    for old in filled.checkpoints():
        for new in filled.checkpoints():
            if old.size <= new.size:
                proof = filled.consistency_proof(old.size, new.size)
                verify_checkpoint_consistency(old.note, new.note, proof, filled.vkey())
    report = filled.audit()
    assert report.ok and report.problem is None
    assert (report.entries_checked, report.checkpoints_checked, report.root) == (
        37,
        3,
        latest.root,
    )


def test_status_and_roots(filled: Ledger) -> None:
    filled.append([("review-decision", b"{}")])
    status = filled.status()
    assert (status.origin, status.latest.size, status.checkpoints) == (ORIGIN, 38, 4)
    assert status.entry_types == {"review-decision": 1, "test": 37}
    tree = MemoryTree([*_leaves(37), b"{}"])
    assert [filled.root_at(n) for n in (0, 5, 38)] == [tree_root(n, tree.read) for n in (0, 5, 38)]
    with pytest.raises(LedgerError, match="beyond the log's size 38"):
        filled.root_at(39)


def test_entries_are_stored_verbatim_and_found(filled: Ledger) -> None:
    entry = filled.entry(9)
    assert (entry.index, entry.entry_type, entry.data) == (9, "test", _leaves(10)[9])
    assert entry.leaf_hash == leaf_hash(entry.data)
    assert abs(entry.integrated_at - datetime.now(UTC)) < timedelta(minutes=5)
    assert filled.find(leaf_hash(_leaves(10)[9])) == 9
    assert filled.find(leaf_hash(b"never logged")) is None
    with pytest.raises(LedgerError, match="no ledger entry at index 37"):
        filled.entry(37)


def test_an_empty_log_has_a_signed_empty_checkpoint(engine: Engine) -> None:
    ledger = Ledger(engine=engine, origin=ORIGIN, signing_key=KEY)
    latest = ledger.latest_checkpoint()
    assert (latest.size, latest.root, latest.issued_at) == (0, EMPTY_ROOT, None)
    assert latest.note.startswith(f"{ORIGIN}\n0\n")
    assert ledger.append([]) == []
    assert ledger.checkpoints() == []
    assert ledger.audit().ok
    with pytest.raises(LedgerError, match="not in the log"):
        ledger.receipt(0)


def test_writers_sharing_a_database_stay_consistent(filled: Ledger, engine: Engine) -> None:
    other = Ledger(engine=engine, origin=ORIGIN, signing_key=KEY)  # e.g. another process
    assert other.append([("test", d) for d in _leaves(5, 37)]) == list(range(37, 42))
    # ``filled`` has a stale right edge cached; it must notice and re-read it.
    assert filled.append([("test", d) for d in _leaves(3, 42)]) == [42, 43, 44]
    tree = MemoryTree(_leaves(45))
    assert other.latest_checkpoint().root == tree_root(45, tree.read)
    assert Ledger(engine=engine, origin=ORIGIN, signing_key=KEY).audit().ok


def test_a_lost_race_rolls_back_the_whole_batch(
    filled: Ledger, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = filled._current_edge  # the edge as this writer last saw it (size 37)
    with engine.connect() as conn:
        edge_at_37 = stale(conn).copy()
    Ledger(engine=engine, origin=ORIGIN, signing_key=KEY).append([("test", b"winner")])
    # Both writers read size 37 before either committed: the loser's rows collide.
    monkeypatch.setattr(filled, "_current_edge", lambda conn: edge_at_37)
    with pytest.raises(LedgerError, match="another writer kept appending"):
        filled.append([("test", b"loser 1"), ("test", b"loser 2")])
    assert filled.size() == 38
    assert filled.find(leaf_hash(b"loser 2")) is None
    assert filled.audit().ok
    monkeypatch.undo()
    assert filled.append([("test", b"retry")]) == [38]


def test_a_race_lost_once_is_retried(
    filled: Ledger, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = filled._current_edge
    with engine.connect() as conn:
        edge_at_37 = real(conn).copy()
    Ledger(engine=engine, origin=ORIGIN, signing_key=KEY).append([("test", b"winner")])
    calls: list[int] = []

    def stale_once(conn: object) -> object:
        calls.append(1)
        return edge_at_37 if len(calls) == 1 else real(conn)  # type: ignore[arg-type]

    monkeypatch.setattr(filled, "_current_edge", stale_once)
    assert filled.append([("test", b"second")]) == [38]
    assert len(calls) == 2
    assert filled.audit().ok


def test_a_log_refuses_another_key_or_origin(filled: Ledger, engine: Engine) -> None:
    for ledger in (
        Ledger(engine=engine, origin=ORIGIN, signing_key=SigningKey(b"\x12" * 32)),
        Ledger(engine=engine, origin="copyseal.test/other", signing_key=KEY),
    ):
        with pytest.raises(LedgerError, match="not this log's"):
            ledger.append([("test", b"x")])
    assert filled.size() == 37


def test_database_errors_become_ledger_errors(tmp_path: Path) -> None:
    bare = db.create_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no ledger tables
    ledger = Ledger(engine=bare, origin=ORIGIN, signing_key=KEY)
    with pytest.raises(LedgerError, match="cannot read the ledger size: OperationalError"):
        ledger.size()
    with pytest.raises(LedgerError, match="cannot append to the ledger"):
        ledger.append([("test", b"x")])
    bare.dispose()


def test_invalid_requests_are_refused(filled: Ledger) -> None:
    with pytest.raises(LedgerError, match="entry type"):
        filled.append([("", b"x")])
    with pytest.raises(LedgerError, match="entry type"):
        filled.append([("t" * 65, b"x")])
    with pytest.raises(LedgerError, match="must be bytes"):
        filled.append([("test", "text")])  # type: ignore[list-item]
    with pytest.raises(LedgerError, match="beyond the log's size 37"):
        filled.inclusion_proof(0, 38)
    with pytest.raises(LedgerError, match="leaf index 7 is not in a tree of size 7"):
        filled.inclusion_proof(7, 7)
    with pytest.raises(LedgerError, match="from size 8 to 7"):
        filled.consistency_proof(8, 7)
    assert filled.size() == 37


# -- tampering ----------------------------------------------------------------------------


def _tamper(engine: Engine, *statements: object) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[call-overload]


def _audit_problem(engine: Engine, **kwargs: object) -> tuple[str, int, str]:
    report = Ledger(engine=engine, origin=ORIGIN, signing_key=KEY).audit(**kwargs)  # type: ignore[arg-type]
    assert report.problem is not None, "audit missed the tampering"
    assert not report.ok
    return report.problem.kind, report.problem.index, report.problem.message


def test_audit_catches_an_edited_row(filled: Ledger, engine: Engine) -> None:
    _tamper(engine, update(ENTRIES).where(ENTRIES.c.leaf_index == 10).values(leaf_data=b"forged"))
    assert _audit_problem(engine)[:2] == ("edited-entry", 10)


def test_audit_catches_an_edited_row_with_its_hash(filled: Ledger, engine: Engine) -> None:
    _tamper(
        engine,
        update(ENTRIES)
        .where(ENTRIES.c.leaf_index == 10)
        .values(leaf_data=b"forged", leaf_hash=leaf_hash(b"forged")),
    )
    kind, index, message = _audit_problem(engine)
    assert (kind, index) == ("bad-subtree", 10)
    assert "[10, 12)" in message


def _rewrite_tree(engine: Engine, leaves: list[bytes]) -> MemoryTree:
    """What a forger without the key can do: rewrite entries and every stored hash."""
    tree = MemoryTree(leaves)
    with engine.begin() as conn:
        conn.execute(delete(SUBTREES))
        conn.execute(delete(ENTRIES))
        conn.execute(
            insert(ENTRIES),
            [
                {
                    "leaf_index": i,
                    "entry_type": "test",
                    "leaf_data": d,
                    "leaf_hash": leaf_hash(d),
                    "integrated_at": datetime.now(UTC),
                }
                for i, d in enumerate(leaves)
            ],
        )
        rows = [
            {"level": lv, "node_index": i, "hash": h} for (lv, i), h in tree.hashes.items() if lv
        ]
        conn.execute(insert(SUBTREES), rows)
    return tree


def test_audit_catches_rewritten_hashes_against_signed_checkpoints(
    filled: Ledger, engine: Engine
) -> None:
    leaves = _leaves(37)
    leaves[3] = b"forged"
    _rewrite_tree(engine, leaves)
    kind, index, message = _audit_problem(engine)
    assert (kind, index) == ("rewritten-history", 7)  # the first checkpoint covering entry 3
    assert "signed checkpoint at size 7" in message


def test_audit_catches_missing_and_stray_stored_hashes(filled: Ledger, engine: Engine) -> None:
    _tamper(engine, delete(SUBTREES).where(SUBTREES.c.level == 2, SUBTREES.c.node_index == 1))
    kind, index, message = _audit_problem(engine)
    assert (kind, index) == ("bad-subtree", 4)
    assert "[4, 8)" in message
    _tamper(engine, insert(SUBTREES).values(level=2, node_index=1, hash=b"\x00" * 32))
    assert _audit_problem(engine)[:2] == ("bad-subtree", 4)


def test_audit_catches_a_stray_hash_beyond_the_log(filled: Ledger, engine: Engine) -> None:
    _tamper(engine, insert(SUBTREES).values(level=1, node_index=40, hash=b"\x00" * 32))
    kind, _, message = _audit_problem(engine)
    assert kind == "bad-subtree" and "beyond the log" in message


def test_an_append_during_an_audit_is_not_a_discrepancy(
    filled: Ledger, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from copyseal.ledger import _audit

    tail = _audit._Auditor.tail

    def append_then_tail(self: _audit._Auditor) -> None:
        Ledger(engine=engine, origin=ORIGIN, signing_key=KEY).append([("test", b"meanwhile")])
        tail(self)

    monkeypatch.setattr(_audit._Auditor, "tail", append_then_tail)
    report = filled.audit()
    assert report.ok, report.problem
    assert (report.size, report.entries_checked, filled.size()) == (37, 37, 38)


def test_audit_catches_a_deleted_row(filled: Ledger, engine: Engine) -> None:
    _tamper(engine, delete(ENTRIES).where(ENTRIES.c.leaf_index == 20))
    assert _audit_problem(engine)[:2] == ("missing-entry", 20)


def test_audit_catches_a_deleted_last_row(filled: Ledger, engine: Engine) -> None:
    _tamper(engine, delete(ENTRIES).where(ENTRIES.c.leaf_index == 36))
    kind, index, message = _audit_problem(engine)
    assert (kind, index) == ("missing-entry", 36)
    assert "signed size 37" in message


def test_audit_catches_an_unsigned_extra_row(filled: Ledger, engine: Engine) -> None:
    _tamper(
        engine,
        insert(ENTRIES).values(
            leaf_index=37,
            entry_type="test",
            leaf_data=b"x",
            leaf_hash=leaf_hash(b"x"),
            integrated_at=datetime.now(UTC),
        ),
    )
    assert _audit_problem(engine)[:2] == ("extra-entry", 37)


def test_audit_catches_an_edited_checkpoint(filled: Ledger, engine: Engine) -> None:
    note = filled.checkpoint_at(7)
    assert note is not None
    forged = note.note.replace(f"{ORIGIN}\n7\n", f"{ORIGIN}\n7\n", 1).replace("\n\n", "\nx\n\n")
    _tamper(engine, update(CHECKPOINTS).where(CHECKPOINTS.c.tree_size == 7).values(note=forged))
    kind, index, message = _audit_problem(engine)
    assert (kind, index) == ("bad-checkpoint", 7)
    assert "invalid note signature" in message


def test_audit_catches_a_log_rebuilt_and_resigned(filled: Ledger, engine: Engine) -> None:
    """The forger holds the log's key and rebuilds the whole log with entry 3 changed."""
    receipt = filled.receipt(3)  # handed to a user before the rewrite
    old_checkpoint = parse_receipt(receipt).checkpoint_note
    _tamper(engine, delete(CHECKPOINTS), delete(SUBTREES), delete(ENTRIES))
    forger = Ledger(engine=engine, origin=ORIGIN, signing_key=KEY)
    leaves = _leaves(37)
    leaves[3] = b"forged"
    start = 0
    for n in BATCHES:
        forger.append([("test", d) for d in leaves[start : start + n]])
        start += n
    forger.append([("test", b"later entry")])
    # Internally consistent: only a checkpoint held outside the database reveals it.
    assert forger.audit().ok
    kind, index, message = _audit_problem(engine, trusted=[receipt])
    assert (kind, index) == ("rewritten-history", 37)
    assert "trusted checkpoint at size 37" in message
    # The old receipt's checkpoint is not consistent with any later checkpoint.
    latest = forger.latest_checkpoint()
    proof = forger.consistency_proof(37, latest.size)
    with pytest.raises(VerificationError, match="consistency proof does not lead to the old root"):
        verify_checkpoint_consistency(old_checkpoint, latest.note, proof, filled.vkey())


def test_audit_catches_a_rebuilt_log_with_a_new_signed_head(filled: Ledger, engine: Engine) -> None:
    """Entries and hashes rewritten and a new head signed, earlier checkpoints left alone."""
    leaves = [*_leaves(37), b"appended"]
    leaves[20] = b"forged"
    tree = _rewrite_tree(engine, leaves)
    signer = NoteSigner(name=ORIGIN, signing_key=KEY)
    head = Checkpoint(origin=ORIGIN, size=38, root=tree_root(38, tree.read))
    _tamper(
        engine,
        insert(CHECKPOINTS).values(
            tree_size=38, root_hash=head.root, note=head.sign(signer), issued_at=datetime.now(UTC)
        ),
    )
    assert _audit_problem(engine)[:2] == ("rewritten-history", 37)


# -- migrations and crashes ---------------------------------------------------------------


def test_migration_0002_matches_the_tables(database_url: str) -> None:
    engine = db.create_engine(database_url)
    try:
        db.upgrade(engine, "0002_ledger")
        # Compare against the ledger's tables alone (later revisions add the others).
        only_ledger = MetaData()
        for table in Base.metadata.sorted_tables:
            if table.name.startswith("ledger_"):
                table.to_metadata(only_ledger)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), only_ledger)
        ledger_diff = [d for d in diff if not (isinstance(d, tuple) and d[0] == "remove_table")]
        assert len(only_ledger.tables) == 3
        assert ledger_diff == []
        ledger = Ledger(engine=engine, origin=ORIGIN, signing_key=KEY)
        assert ledger.append([("test", b"a"), ("test", b"b")]) == [0, 1]
        assert ledger.audit().ok
    finally:
        engine.dispose()


CHILD = Path(__file__).with_name("_crash_child.py")


def _run_until(url: str, mode: str, marker: str, delay: float = 0.0) -> tuple[list[str], int]:
    """Start the appending child, SIGKILL it ``delay`` seconds after it prints ``marker``;
    return its lines and the number from the last ``committed N`` line read."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), url, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith(marker):
                time.sleep(delay)
                break
        else:
            pytest.fail(f"child exited early: {proc.stderr.read() if proc.stderr else ''}")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    committed = [int(x.split()[1]) for x in lines if x.startswith("committed")]
    return lines, committed[-1] if committed else 0


def _reopen(url: str) -> Ledger:
    return Ledger(engine=db.create_engine(url), origin=CHILD_ORIGIN, signing_key=CHILD_KEY)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["between", "mid-batch"])
def test_a_killed_appender_leaves_the_log_at_a_checkpoint(
    database_url: str, engine: Engine, mode: str
) -> None:
    marker = "committed 1500" if mode == "between" else "mid-batch"
    lines, committed = _run_until(database_url, mode, marker)
    assert committed == 1500
    if mode == "mid-batch":
        assert lines[-1] == "mid-batch 1500"
    ledger = _reopen(database_url)
    try:
        report = ledger.audit()
        assert report.ok, report.problem
        assert ledger.size() == report.entries_checked == 1500
        assert [c.size for c in ledger.checkpoints()] == [500, 1000, 1500]
        # The log goes on from where it stopped.
        assert ledger.append([("test", b"after the crash")]) == [1500]
        assert ledger.audit().ok
    finally:
        ledger._engine.dispose()


@pytest.mark.slow
def test_repeated_kills_at_random_moments(database_url: str, engine: Engine) -> None:
    sizes = []
    rng = random.Random(20261125)
    for _round in range(4):
        delay = rng.uniform(0.0, 0.25)  # the child commits a 500-leaf batch every ~20 ms
        _, committed = _run_until(database_url, "loop", "committed", delay)
        ledger = _reopen(database_url)
        try:
            report = ledger.audit()
            assert report.ok, report.problem
            size = ledger.size()
            assert size >= committed and size % 500 == 0
            assert report.entries_checked == size
            sizes.append(size)
        finally:
            ledger._engine.dispose()
    assert sizes == sorted(sizes) and sizes[-1] >= 1500


def test_many_writers_at_once_each_get_their_turn(postgres_url: str) -> None:
    """Workers on several machines append at once: each batch gets the next indexes, none
    is lost or refused (on PostgreSQL they take turns on an advisory lock rather than
    racing and retrying), and the log audits clean."""
    import threading

    eng = db.create_engine(postgres_url)
    Base.metadata.create_all(eng, tables=ledger_tables())
    got: list[list[int]] = []
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        ledger = Ledger(engine=eng, origin=ORIGIN, signing_key=KEY)  # one per process
        try:
            for i in range(12):
                got.append(ledger.append([("test", b'{"w":%d,"i":%d}' % (w, i))] * 2))
        except BaseException as e:  # the test fails below with it
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert sorted(i for batch in got for i in batch) == list(range(6 * 12 * 2))
        assert all(b[1] == b[0] + 1 for b in got)  # a batch's entries stay together
        assert Ledger(engine=eng, origin=ORIGIN, signing_key=KEY).audit().ok
    finally:
        eng.dispose()
