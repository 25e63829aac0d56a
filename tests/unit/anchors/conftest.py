"""Fixtures of the anchor conformance kit: a real SQLite ledger, and every kind's anchors.

Every kind in :data:`copyseal.anchors.ANCHORS` is built three ways from
:class:`~copyseal.anchors.AnchorContext`: able to anchor (the log's signer), verify-only
(the log's vkey alone, as a stranger has it), and a stranger's (the same log name, another
key). A kind that needs more to be built (a chain, a time-stamping authority) extends the
context and :func:`kit` here, and the kit's tests then run against it unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from copyseal import db
from copyseal.anchors import ANCHORS, Anchor, AnchorContext, anchor_for
from copyseal.db.base import Base
from copyseal.db.schema.ledger import ledger_tables
from copyseal.ledger import Ledger
from copyseal.ledger.note import NoteSigner

ORIGIN = "copyseal.test/anchors"
KEY = SigningKey(b"\x31" * 32)
OTHER_KEY = SigningKey(b"\x32" * 32)


@dataclass(frozen=True, kw_only=True)
class Kit:
    """One kind's anchors for the test log."""

    kind: str
    anchoring: Anchor
    verifying: Anchor
    stranger: Anchor
    vkey: str


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A real ledger on SQLite with checkpoints at sizes 5 and 8."""
    engine = db.create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    Base.metadata.create_all(engine, tables=ledger_tables())
    log = Ledger(engine=engine, origin=ORIGIN, signing_key=KEY)
    log.append([("test", b'{"n":%d}' % i) for i in range(5)])
    log.append([("test", b'{"n":%d}' % i) for i in range(5, 8)])
    yield log
    engine.dispose()


@pytest.fixture(params=sorted(ANCHORS))
def kit(request: pytest.FixtureRequest) -> Kit:
    kind: str = request.param
    signer = NoteSigner(name=ORIGIN, signing_key=KEY)
    stranger = NoteSigner(name=ORIGIN, signing_key=OTHER_KEY)
    return Kit(
        kind=kind,
        anchoring=anchor_for(kind, AnchorContext.for_signer(signer)),
        verifying=anchor_for(kind, AnchorContext(vkey=signer.vkey)),
        stranger=anchor_for(kind, AnchorContext.for_signer(stranger)),
        vkey=signer.vkey,
    )
