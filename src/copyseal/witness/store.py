"""The witness's durable state: per log, the latest checkpoint it cosigned.

One SQLite file (stdlib :mod:`sqlite3`, ``synchronous=FULL``): the witness's name, the
latest cosigned head per origin (size, root, and the cosigned note it serves to monitors),
and the refused submissions that look like log misbehaviour (tlog-witness lets a witness
keep them, "as it might be proof of log misbehavior").

:meth:`WitnessStore.advance` reads and replaces a log's head in one ``BEGIN IMMEDIATE``
transaction, so two concurrent submissions cannot roll a log back (the race tlog-witness
describes): the check of ``old`` and the write are atomic, across threads and processes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from copyseal.errors import AnchorError
from copyseal.times import iso, now

__all__ = ["Head", "Refusal", "WitnessStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS heads (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refusals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    reason TEXT NOT NULL,
    request BLOB NOT NULL,
    received_at TEXT NOT NULL
);
"""
#: Refused submissions kept at most (oldest dropped first), so a noisy log cannot fill the disk.
MAX_REFUSALS = 10_000


@dataclass(frozen=True, kw_only=True)
class Head:
    """The latest checkpoint the witness cosigned for a log, and the note it serves."""

    origin: str
    size: int
    root: bytes
    note: str


@dataclass(frozen=True, kw_only=True)
class Refusal:
    """A signed submission the witness refused as inconsistent with what it saw."""

    origin: str
    size: int
    root: bytes
    reason: str


class WitnessStore:
    """The witness's SQLite state file (created on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        except sqlite3.Error as e:
            raise AnchorError(f"{self.path}: cannot open the witness state ({e})") from e
        try:
            conn.execute("PRAGMA synchronous=FULL")
            yield conn
        except sqlite3.Error as e:
            raise AnchorError(f"{self.path}: witness state error ({e})") from e
        finally:
            conn.close()

    def name(self, default: str | None = None) -> str | None:
        """The witness's key name; ``default`` is stored on first use (a name, once
        chosen, stays: it is part of the key ID verifiers hold)."""
        with self._lock, self._connect() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'name'").fetchone()
            if row is not None:
                return str(row[0])
            if default is None:
                return None
            conn.execute("INSERT INTO meta (key, value) VALUES ('name', ?)", (default,))
            return default

    def head(self, origin: str) -> Head | None:
        """The latest head cosigned for ``origin`` (None: never cosigned one)."""
        with self._connect() as conn:
            return _head(conn, origin)

    def advance(self, origin: str, decide: Callable[[Head | None], Head]) -> Head:
        """Atomically replace ``origin``'s head with ``decide(current head)``.

        ``decide`` refuses by raising; nothing is written then. The new head is on disk
        (committed, ``synchronous=FULL``) when this returns.
        """
        with self._lock, self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                new = decide(_head(conn, origin))
                conn.execute(
                    "INSERT INTO heads (origin, size, root, note, updated_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET"
                    " size = excluded.size, root = excluded.root, note = excluded.note,"
                    " updated_at = excluded.updated_at",
                    (origin, new.size, new.root, new.note, iso(now())),
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return new

    def refused(self, refusal: Refusal, request: bytes) -> None:
        """Keep a refused signed submission as evidence (bounded to :data:`MAX_REFUSALS`)."""
        with self._lock, self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO refusals (origin, size, root, reason, request, received_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (refusal.origin, refusal.size, refusal.root, refusal.reason, request, iso(now())),
            )
            conn.execute(
                "DELETE FROM refusals WHERE id <= (SELECT MAX(id) FROM refusals) - ?",
                (MAX_REFUSALS,),
            )
            conn.execute("COMMIT")

    def refusals(self, origin: str) -> list[Refusal]:
        """The refused submissions kept for ``origin``, oldest first."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT origin, size, root, reason FROM refusals WHERE origin = ? ORDER BY id",
                (origin,),
            ).fetchall()
        return [Refusal(origin=o, size=s, root=bytes(r), reason=why) for o, s, r, why in rows]


def _head(conn: sqlite3.Connection, origin: str) -> Head | None:
    row = conn.execute("SELECT size, root, note FROM heads WHERE origin = ?", (origin,)).fetchone()
    if row is None:
        return None
    return Head(origin=origin, size=int(row[0]), root=bytes(row[1]), note=str(row[2]))
