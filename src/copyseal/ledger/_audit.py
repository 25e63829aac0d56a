"""Auditing a stored log: recompute everything from the entries and compare.

One streaming pass over the entries in index order recomputes each leaf hash, every
complete-subtree hash and the root at every checkpointed size, and compares each with
what is stored and signed. A log is only ever appended to, so every checkpoint it ever
signed must be the root of a prefix of the current entries (RFC 9162 §2.1.4: that is what
consistency means). The first discrepancy, in index order, is reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, Connection, and_, false, func, or_, select

from copyseal.db.schema.ledger import CHECKPOINTS as _CHECKPOINTS
from copyseal.db.schema.ledger import ENTRIES as _ENTRIES
from copyseal.db.schema.ledger import SUBTREES as _SUBTREES
from copyseal.errors import VerificationError
from copyseal.ledger import _merkle
from copyseal.ledger.checkpoint import Checkpoint, open_checkpoint
from copyseal.ledger.note import NoteVerifier
from copyseal.ledger.proof import parse_receipt

__all__ = ["AuditProblem", "AuditReport", "ProblemKind", "run_audit"]

_CHUNK = 20_000

#: What went wrong: ``edited-entry`` (data does not hash to its leaf hash),
#: ``missing-entry`` (a deleted row), ``extra-entry`` (a row no checkpoint covers),
#: ``bad-subtree`` (a stored hash that the entries do not produce, or is missing),
#: ``bad-checkpoint`` (signature, format or columns), ``rewritten-history`` (a signed
#: checkpoint that is not the root of the entries at its size).
ProblemKind = Literal[
    "edited-entry",
    "missing-entry",
    "extra-entry",
    "bad-subtree",
    "bad-checkpoint",
    "rewritten-history",
]


@dataclass(frozen=True, kw_only=True)
class AuditProblem:
    """The first discrepancy an audit found; ``index`` is the leaf or tree size involved."""

    kind: ProblemKind
    index: int
    message: str


@dataclass(frozen=True, kw_only=True)
class AuditReport:
    """Outcome of :meth:`copyseal.ledger.Ledger.audit`."""

    size: int
    entries_checked: int
    checkpoints_checked: int
    trusted_checked: int
    root: bytes
    problem: AuditProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Found(Exception):
    def __init__(self, kind: ProblemKind, index: int, message: str) -> None:
        super().__init__(message)
        self.problem = AuditProblem(kind=kind, index=index, message=message)


def _trusted_checkpoints(notes: Sequence[str], verifier: NoteVerifier) -> dict[int, Checkpoint]:
    out: dict[int, Checkpoint] = {}
    for note in notes:
        if note.startswith("c2sp.org/tlog-proof@v1\n"):
            note = parse_receipt(note).checkpoint_note
        cp = open_checkpoint(note, verifier)
        if cp.size in out and out[cp.size].root != cp.root:
            raise VerificationError(f"two trusted checkpoints disagree at size {cp.size}")
        out[cp.size] = cp
    return out


def _subtrees_closed_in(conn: Connection, lo: int, hi: int) -> dict[tuple[int, int], bytes]:
    """Stored subtrees whose last leaf lies in ``[lo, hi)``: level L, index i with
    ``(i + 1) << L`` in ``(lo, hi]``."""
    ranges = []
    level = 1
    while (1 << level) <= hi:
        first, last = lo >> level, (hi >> level) - 1
        if first <= last:
            ranges.append(
                and_(
                    _SUBTREES.c.level == level,
                    _SUBTREES.c.node_index >= first,
                    _SUBTREES.c.node_index <= last,
                )
            )
        level += 1
    if not ranges:
        return {}
    rows = conn.execute(select(_SUBTREES).where(or_(*ranges)))
    return {(r.level, r.node_index): bytes(r.hash) for r in rows}


def _check_checkpoint(
    row_size: int, row_root: bytes, note: str, verifier: NoteVerifier
) -> Checkpoint:
    try:
        cp = open_checkpoint(note, verifier)
    except VerificationError as e:
        raise _Found("bad-checkpoint", row_size, f"checkpoint at size {row_size}: {e}") from e
    if cp.size != row_size or cp.root != row_root:
        raise _Found(
            "bad-checkpoint",
            row_size,
            f"checkpoint at size {row_size}: signed note says size {cp.size} with another root",
        )
    return cp


def _within(n: int) -> ColumnElement[bool]:
    """Stored subtrees lying inside a tree of ``n`` leaves."""
    levels = range(1, max(n.bit_length(), 1))
    return or_(
        false(), *(and_(_SUBTREES.c.level == lv, _SUBTREES.c.node_index < n >> lv) for lv in levels)
    )


class _Auditor:
    """One pass over the entries of the log as of its latest checkpoint."""

    def __init__(
        self, conn: Connection, verifier: NoteVerifier, trusted: dict[int, Checkpoint]
    ) -> None:
        self.conn, self.verifier, self.trusted = conn, verifier, trusted
        self.edge = _merkle.RightEdge()
        self.checkpoints = 0
        self.trusted_checked = 0
        self.latest = int(conn.execute(select(func.max(_CHECKPOINTS.c.tree_size))).scalar() or 0)

    def check_root(self, size: int, signed: Checkpoint | None) -> None:
        root = self.edge.root()
        if signed is not None:
            self.checkpoints += 1
            if signed.root != root:
                raise _Found(
                    "rewritten-history",
                    size,
                    f"signed checkpoint at size {size} is not the root of the entries"
                    " (an entry before it was changed, or history rewritten)",
                )
        if size in self.trusted:
            self.trusted_checked += 1
            if self.trusted[size].root != root:
                raise _Found(
                    "rewritten-history",
                    size,
                    f"trusted checkpoint at size {size} is not the root of the entries:"
                    " the log's history was rewritten",
                )

    def chunk(self, lo: int) -> int:
        """Check entries from ``lo`` (at most one chunk); returns where the next starts."""
        rows = self.conn.execute(
            select(_ENTRIES.c.leaf_index, _ENTRIES.c.leaf_data, _ENTRIES.c.leaf_hash)
            .where(_ENTRIES.c.leaf_index >= lo, _ENTRIES.c.leaf_index < self.latest)
            .order_by(_ENTRIES.c.leaf_index)
            .limit(_CHUNK)
        ).all()
        if not rows:
            return lo
        hi = int(rows[-1].leaf_index) + 1
        stored = _subtrees_closed_in(self.conn, lo, hi)
        signed = {
            r.tree_size: r
            for r in self.conn.execute(
                select(_CHECKPOINTS).where(
                    _CHECKPOINTS.c.tree_size > lo, _CHECKPOINTS.c.tree_size <= hi
                )
            )
        }
        edge = self.edge
        closed: list[tuple[int, int, bytes]] = []
        for row in rows:
            i = row.leaf_index
            if i != edge.size:
                raise _Found(
                    "missing-entry", edge.size, f"entry {edge.size} is missing (deleted row)"
                )
            if _merkle.leaf_hash(bytes(row.leaf_data)) != bytes(row.leaf_hash):
                raise _Found(
                    "edited-entry", i, f"entry {i}: data does not match its leaf hash (edited row)"
                )
            edge.append(bytes(row.leaf_hash), closed)
            for level, index, h in closed:
                if stored.pop((level, index), None) != h:
                    first, end = index << level, (index + 1) << level
                    raise _Found(
                        "bad-subtree",
                        first,
                        f"stored hash of entries [{first}, {end}) does not match them"
                        " (edited or missing row)",
                    )
            closed.clear()
            row_cp = signed.get(edge.size)
            cp = None
            if row_cp is not None:
                cp = _check_checkpoint(
                    row_cp.tree_size, bytes(row_cp.root_hash), row_cp.note, self.verifier
                )
            self.check_root(edge.size, cp)
        if stored:
            level, index = min(stored, key=lambda k: (k[1] + 1) << k[0])
            raise _Found("bad-subtree", index << level, f"unexpected stored hash at level {level}")
        return hi

    def tail(self) -> None:
        """What lies at or beyond the end: deleted last rows, unsigned rows, stray hashes."""
        n = self.edge.size
        if self.latest > n:
            raise _Found(
                "missing-entry", n, f"entry {n} is missing: the log signed size {self.latest}"
            )
        for size in sorted(self.trusted):
            if size > n:
                raise _Found(
                    "rewritten-history",
                    size,
                    f"a trusted checkpoint has size {size} but the log only has {n} entries",
                )
        # One statement, so an append committing meanwhile (entries and checkpoint
        # together) cannot look like a row without a checkpoint.
        newest = select(func.coalesce(func.max(_CHECKPOINTS.c.tree_size), 0)).scalar_subquery()
        extra = self.conn.execute(
            select(func.min(_ENTRIES.c.leaf_index)).where(_ENTRIES.c.leaf_index >= newest)
        ).scalar()
        if extra is not None:
            raise _Found(
                "extra-entry", int(extra), f"entry {extra} is not covered by any checkpoint"
            )
        expected = n - n.bit_count()  # interior complete subtrees of a tree of n leaves
        count = (
            self.conn.execute(
                select(func.count()).select_from(_SUBTREES).where(_within(n))
            ).scalar()
            or 0
        )
        if count != expected:
            raise _Found("bad-subtree", n, f"{count} stored subtree hashes, expected {expected}")
        total = self.conn.execute(select(func.count()).select_from(_SUBTREES)).scalar() or 0
        grown = self.conn.execute(select(func.max(_CHECKPOINTS.c.tree_size))).scalar() or 0
        if total > count and grown == self.latest:
            raise _Found("bad-subtree", n, f"{total - count} stored hashes lie beyond the log")


def run_audit(conn: Connection, *, verifier: NoteVerifier, trusted: Sequence[str]) -> AuditReport:
    """Audit the log stored behind ``conn`` as of its latest checkpoint (see the module
    docstring); appends committed meanwhile are not reported as discrepancies.

    Raises:
        VerificationError: a ``trusted`` note does not verify with ``verifier``.
    """
    auditor = _Auditor(conn, verifier, _trusted_checkpoints(trusted, verifier))
    problem: AuditProblem | None = None
    try:
        if 0 in auditor.trusted:
            auditor.check_root(0, None)
        lo = 0
        while (hi := auditor.chunk(lo)) != lo:
            lo = hi
        auditor.tail()
    except _Found as found:
        problem = found.problem
    return AuditReport(
        size=auditor.latest,
        entries_checked=auditor.edge.size,
        checkpoints_checked=auditor.checkpoints,
        trusted_checked=auditor.trusted_checked,
        root=auditor.edge.root(),
        problem=problem,
    )
