"""Fixtures for the witness: a real growing ledger, and witnesses on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from copyseal import db
from copyseal.db.base import Base
from copyseal.db.schema.ledger import ledger_tables
from copyseal.ledger import Ledger
from copyseal.ledger.note import NoteSigner, NoteVerifier
from copyseal.witness.service import Witness, open_witness

ORIGIN = "copyseal.test/witnessed"
LOG_KEY = SigningKey(b"\x41" * 32)
SIGNER = NoteSigner(name=ORIGIN, signing_key=LOG_KEY)
#: The cosignature time the witnesses' clock gives (2026-12-05T09:00:00Z).
NOW = 1_796_461_200


def grow(log: Ledger, n: int) -> None:
    """Append ``n`` statements in one batch (one new checkpoint)."""
    start = log.size()
    log.append([("test", b'{"n":%d}' % i) for i in range(start, start + n)])


@contextmanager
def make_ledger(path: Path, key: SigningKey = LOG_KEY) -> Iterator[Ledger]:
    engine = db.create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine, tables=ledger_tables())
    yield Ledger(engine=engine, origin=ORIGIN, signing_key=key)
    engine.dispose()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A real ledger on SQLite with checkpoints at sizes 3 and 7."""
    with make_ledger(tmp_path / "ledger.db") as log:
        grow(log, 3)
        grow(log, 4)
        yield log


WitnessFactory = Callable[..., Witness]


@pytest.fixture
def make_witness(tmp_path: Path) -> WitnessFactory:
    """A witness in its own state folder that knows the test log (or the ``logs`` given)."""

    def make(state: str = "w1", *, logs: dict[str, list[NoteVerifier]] | None = None) -> Witness:
        known = {ORIGIN: [SIGNER.verifier]} if logs is None else logs
        name = f"witness.test/{state}"
        return open_witness(tmp_path / state, logs=known, name=name, clock=lambda: NOW)

    return make
