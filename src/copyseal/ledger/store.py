"""The ledger store: an append-only RFC 9162 Merkle log in the copyseal database.

Appends are batched: one transaction inserts the batch's entries, the complete-subtree
hashes the batch closes, and a freshly signed C2SP checkpoint for the new size, so a
crash mid-batch leaves the log at the previous checkpoint. Nothing here updates or
deletes a row. Proofs read O(log n) stored hashes (see :mod:`copyseal.ledger._merkle`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nacl.signing import SigningKey
from sqlalchemy import Connection, Engine, func, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from copyseal import times
from copyseal.db.schema.ledger import CHECKPOINTS as _CHECKPOINTS
from copyseal.db.schema.ledger import ENTRIES as _ENTRIES
from copyseal.db.schema.ledger import SUBTREES as _SUBTREES
from copyseal.errors import LedgerError, VerificationError
from copyseal.ledger import _merkle
from copyseal.ledger._audit import AuditReport, run_audit
from copyseal.ledger._reads import hash_range, latest_size, leaf_data_range, reader
from copyseal.ledger.checkpoint import Checkpoint, open_checkpoint
from copyseal.ledger.note import NoteSigner
from copyseal.ledger.proof import Receipt

__all__ = ["Entry", "Ledger", "LedgerStatus", "SignedCheckpoint"]

_MAX_TYPE_LENGTH = 64


def _db_error(what: str, e: SQLAlchemyError) -> LedgerError:
    """A one-line :class:`LedgerError` for a database failure (the driver's first line)."""
    detail = str(e.orig if isinstance(e, DBAPIError) else e).splitlines()[0]
    if "database is locked" in detail:  # SQLite's SQLITE_BUSY once busy_timeout ran out
        detail += " (another process held its write lock for the whole wait; nothing was written)"
    return LedgerError(f"cannot {what}: {e.__class__.__name__}: {detail}")


@dataclass(frozen=True, kw_only=True)
class SignedCheckpoint:
    """A checkpoint the log issued: the parsed tree head and its signed note, verbatim."""

    checkpoint: Checkpoint
    note: str
    issued_at: datetime | None

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def root(self) -> bytes:
        return self.checkpoint.root


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One logged statement and where it sits in the log."""

    index: int
    entry_type: str
    data: bytes
    leaf_hash: bytes
    integrated_at: datetime


@dataclass(frozen=True, kw_only=True)
class LedgerStatus:
    """A summary of the log: its head, how many checkpoints it signed, entries per type."""

    origin: str
    latest: SignedCheckpoint
    checkpoints: int
    entry_types: dict[str, int]


#: The PostgreSQL advisory lock key that serialises appends (``"cslg"`` as an integer).
_APPEND_LOCK = 0x63736C67
#: How many times an append is tried when other writers win the race for the next index.
_APPEND_ATTEMPTS = 8


class _WriterConflict(LedgerError):
    """Another writer appended first; the whole batch was rolled back."""


class Ledger:
    """An append-only transparency log over one database (C2SP checkpoints, RFC 9162 proofs).

    Args:
        engine: the copyseal database (its migrations create the ledger's tables).
        origin: the log's origin line, also the key name of its signed notes.
        signing_key: the Ed25519 key that signs checkpoints.
    """

    def __init__(self, *, engine: Engine, origin: str, signing_key: SigningKey) -> None:
        self._engine = engine
        self._signer = NoteSigner(name=origin, signing_key=signing_key)
        self.origin = origin
        # Right edge of the tree as of the last batch this process wrote or loaded; checked
        # against the database at the start of every append.
        self._edge: _merkle.RightEdge | None = None

    # -- reading ---------------------------------------------------------------------

    def vkey(self) -> str:
        """The note verifier key to publish: ``origin+keyid+base64(0x01 || pubkey)``."""
        return self._signer.vkey

    @contextmanager
    def _read(self, what: str) -> Iterator[Connection]:
        """A connection for reads; database errors become :class:`LedgerError`."""
        try:
            with self._engine.connect() as conn:
                yield conn
        except SQLAlchemyError as e:
            raise _db_error(what, e) from e

    def size(self) -> int:
        """The size of the latest checkpoint (the log's size)."""
        with self._read("read the ledger size") as conn:
            return latest_size(conn)

    def latest_checkpoint(self) -> SignedCheckpoint:
        """The newest signed checkpoint (for an empty log, a signed size-0 checkpoint)."""
        with self._read("read the latest checkpoint") as conn:
            row = conn.execute(
                select(_CHECKPOINTS).order_by(_CHECKPOINTS.c.tree_size.desc()).limit(1)
            ).first()
        if row is None:
            empty = Checkpoint(origin=self.origin, size=0, root=_merkle.EMPTY_ROOT)
            return SignedCheckpoint(checkpoint=empty, note=empty.sign(self._signer), issued_at=None)
        return self._signed(row.note, row.issued_at)

    def status(self) -> LedgerStatus:
        """The latest checkpoint, the number of checkpoints and entries per type."""
        latest = self.latest_checkpoint()
        with self._read("read the ledger status") as conn:
            count = conn.execute(select(func.count()).select_from(_CHECKPOINTS)).scalar()
            types = conn.execute(
                select(_ENTRIES.c.entry_type, func.count())
                .group_by(_ENTRIES.c.entry_type)
                .order_by(_ENTRIES.c.entry_type)
            ).all()
        return LedgerStatus(
            origin=self.origin,
            latest=latest,
            checkpoints=int(count or 0),
            entry_types={t: int(n) for t, n in types},
        )

    def root_at(self, size: int) -> bytes:
        """The RFC 9162 root of the first ``size`` leaves, from stored hashes."""
        with self._read("compute a root") as conn:
            latest = latest_size(conn)
            if not 0 <= size <= latest:
                raise LedgerError(f"tree size {size} is beyond the log's size {latest}")
            return _merkle.tree_root(size, reader(conn))

    def checkpoint_at(self, size: int) -> SignedCheckpoint | None:
        """The checkpoint issued at exactly ``size`` leaves, if one was."""
        with self._read("read a checkpoint") as conn:
            row = conn.execute(select(_CHECKPOINTS).where(_CHECKPOINTS.c.tree_size == size)).first()
        return None if row is None else self._signed(row.note, row.issued_at)

    def checkpoints(self) -> list[SignedCheckpoint]:
        """Every checkpoint ever issued, oldest first."""
        with self._read("read checkpoints") as conn:
            rows = conn.execute(select(_CHECKPOINTS).order_by(_CHECKPOINTS.c.tree_size)).all()
        return [self._signed(r.note, r.issued_at) for r in rows]

    def _signed(self, note: str, issued_at: datetime) -> SignedCheckpoint:
        try:
            checkpoint = open_checkpoint(note, self._signer.verifier)
        except VerificationError as e:
            raise LedgerError(f"stored checkpoint does not verify ({e}); run 'ledger audit'") from e
        return SignedCheckpoint(checkpoint=checkpoint, note=note, issued_at=times.utc(issued_at))

    def entry(self, index: int) -> Entry:
        """The entry at ``index``."""
        with self._read("read an entry") as conn:
            row = conn.execute(select(_ENTRIES).where(_ENTRIES.c.leaf_index == index)).first()
        if row is None:
            raise LedgerError(f"no ledger entry at index {index}")
        return Entry(
            index=row.leaf_index,
            entry_type=row.entry_type,
            data=bytes(row.leaf_data),
            leaf_hash=bytes(row.leaf_hash),
            integrated_at=times.utc(row.integrated_at),
        )

    def find(self, leaf_hash: bytes) -> int | None:
        """The lowest index whose leaf hash is ``leaf_hash`` (None if never logged)."""
        with self._read("search the ledger") as conn:
            index = conn.execute(
                select(func.min(_ENTRIES.c.leaf_index)).where(_ENTRIES.c.leaf_hash == leaf_hash)
            ).scalar()
        return None if index is None else int(index)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.3.1 inclusion proof of leaf ``index`` in the tree of ``size`` leaves
        (default: the latest checkpoint's size)."""
        with self._read("prove inclusion") as conn:
            latest = latest_size(conn)
            size = latest if size is None else size
            if not 0 <= size <= latest:
                raise LedgerError(f"tree size {size} is beyond the log's size {latest}")
            if not 0 <= index < size:
                raise LedgerError(f"leaf index {index} is not in a tree of size {size}")
            return _merkle.inclusion_proof(index, size, reader(conn))

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.4.1 proof that the tree of ``new`` leaves (default: latest) extends
        the tree of ``old`` leaves."""
        with self._read("prove consistency") as conn:
            latest = latest_size(conn)
            new = latest if new is None else new
            if not 0 <= old <= new <= latest:
                raise LedgerError(
                    f"no consistency proof from size {old} to {new} (log size {latest})"
                )
            return _merkle.consistency_proof(old, new, reader(conn))

    def hashes(self, level: int, start: int, end: int) -> list[bytes]:
        """Stored hashes of complete subtrees ``(level, start) … (level, end - 1)`` (level 0:
        leaf hashes); what C2SP tlog-tiles serves as tiles (levels 0, 8, 16, …)."""
        with self._read("read stored hashes") as conn:
            size = latest_size(conn)
            if not 0 <= start <= end or (end << level) > size:
                raise LedgerError(f"level {level} [{start}, {end}) is beyond the log's size {size}")
            return hash_range(conn, level, start, end)

    def leaf_data(self, start: int, end: int) -> list[bytes]:
        """The data of entries ``start … end - 1`` (tlog-tiles entry bundles)."""
        with self._read("read entries") as conn:
            size = latest_size(conn)
            if not 0 <= start <= end <= size:
                raise LedgerError(f"entries [{start}, {end}) are beyond the log's size {size}")
            return leaf_data_range(conn, start, end)

    def receipt(self, index: int) -> str:
        """A C2SP ``tlog-proof@v1`` for leaf ``index`` against the latest checkpoint."""
        latest = self.latest_checkpoint()
        if not 0 <= index < latest.size:
            raise LedgerError(f"leaf index {index} is not in the log (size {latest.size})")
        proof = self.inclusion_proof(index, latest.size)
        return Receipt(index=index, proof=tuple(proof), checkpoint_note=latest.note).format()

    def audit(self, *, trusted: Sequence[str] = ()) -> AuditReport:
        """Recompute the whole log from its entries and check every stored hash and
        checkpoint, plus ``trusted`` checkpoint notes obtained earlier (e.g. from receipts),
        which catch a history rewritten and re-signed wholesale.

        Returns the report; the first discrepancy found is in ``report.problem``.
        """
        with self._read("audit the ledger") as conn:
            return run_audit(conn, verifier=self._signer.verifier, trusted=trusted)

    # -- appending -------------------------------------------------------------------

    def append(self, statements: Sequence[tuple[str, bytes]]) -> list[int]:
        """Append ``(entry_type, leaf_data)`` pairs atomically and sign a new checkpoint.

        Returns:
            The index of each statement, in order (empty for an empty batch, which signs
            nothing).

        Raises:
            LedgerError: invalid input, a concurrent writer, or a database failure; the
                log is then unchanged.
        """
        for entry_type, data in statements:
            if not isinstance(entry_type, str) or not 0 < len(entry_type) <= _MAX_TYPE_LENGTH:
                raise LedgerError(f"entry type must be 1-{_MAX_TYPE_LENGTH} characters")
            if not isinstance(data, bytes):
                raise LedgerError("leaf data must be bytes")
        if not statements:
            return []
        # Two writers race for the same next index; the loser's transaction rolls back
        # whole, so trying again (a bounded number of times) is safe.
        for attempt in range(_APPEND_ATTEMPTS):
            try:
                return self._append_once(statements)
            except _WriterConflict:
                if attempt == _APPEND_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0.005, 0.02) * (attempt + 1))
        raise AssertionError("unreachable")

    def _append_once(self, statements: Sequence[tuple[str, bytes]]) -> list[int]:
        now = times.now()
        try:
            with self._engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    # Many writers (workers on several machines): take turns on the log's
                    # head for this transaction, rather than racing for the next index
                    # and retrying (PostgreSQL advisory locks, released at commit).
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _APPEND_LOCK})
                edge = self._current_edge(conn).copy()
                start = edge.size
                entries: list[dict[str, Any]] = []
                closed: list[tuple[int, int, bytes]] = []
                index = start
                for entry_type, data in statements:
                    h = _merkle.leaf_hash(data)
                    entries.append(
                        {
                            "leaf_index": index,
                            "entry_type": entry_type,
                            "leaf_data": data,
                            "leaf_hash": h,
                            "integrated_at": now,
                        }
                    )
                    edge.append(h, closed)
                    index += 1
                checkpoint = Checkpoint(origin=self.origin, size=edge.size, root=edge.root())
                conn.execute(insert(_ENTRIES), entries)
                if closed:
                    conn.execute(
                        insert(_SUBTREES),
                        [{"level": lv, "node_index": i, "hash": h} for lv, i, h in closed],
                    )
                conn.execute(
                    insert(_CHECKPOINTS).values(
                        tree_size=checkpoint.size,
                        root_hash=checkpoint.root,
                        note=checkpoint.sign(self._signer),
                        issued_at=now,
                    )
                )
        except IntegrityError as e:
            self._edge = None
            raise _WriterConflict(
                "another writer kept appending to the ledger at the same time; retry"
            ) from e
        except SQLAlchemyError as e:
            self._edge = None
            raise _db_error("append to the ledger", e) from e
        self._edge = edge
        return list(range(start, edge.size))

    def _current_edge(self, conn: Connection) -> _merkle.RightEdge:
        """The cached right edge if still current, else re-read from the database."""
        row = conn.execute(
            select(_CHECKPOINTS.c.tree_size, _CHECKPOINTS.c.root_hash, _CHECKPOINTS.c.note)
            .order_by(_CHECKPOINTS.c.tree_size.desc())
            .limit(1)
        ).first()
        if row is None:
            self._edge = _merkle.RightEdge()
            return self._edge
        size, root = int(row.tree_size), bytes(row.root_hash)
        if self._edge is not None and self._edge.size == size and self._edge.root() == root:
            return self._edge
        try:
            checkpoint = open_checkpoint(row.note, self._signer.verifier)
        except VerificationError as e:
            raise LedgerError(
                f"the latest checkpoint is not this log's ({e}): wrong key or origin?"
            ) from e
        keys = _merkle.subtree_keys(0, size)
        edge = _merkle.RightEdge(size=size, keys=keys, hashes=reader(conn)(keys))
        if edge.root() != root or checkpoint.root != root or checkpoint.size != size:
            raise LedgerError(
                "stored hashes do not match the latest checkpoint; run 'ledger audit'"
            )
        self._edge = edge
        return edge
