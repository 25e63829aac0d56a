"""Fixtures of the anchor conformance kit: a real SQLite ledger, and every kind's anchors.

Every kind in :data:`copyseal.anchors.ANCHORS` is built three ways from
:class:`~copyseal.anchors.AnchorContext`: able to anchor (the log's signer), verify-only
(the log's vkey alone, as a stranger has it), and a stranger's (the same log name, another
key). A kind that needs more to be built (a chain, a time-stamping authority) extends the
context and :func:`kit` here, and the kit's tests then run against it unchanged.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from anvil_node import DEV_KEYS, AnvilNode, anvil_binary
from copyseal import db
from copyseal.anchors import ANCHORS, Anchor, AnchorContext, anchor_for
from copyseal.db.base import Base
from copyseal.db.schema.ledger import ledger_tables
from copyseal.ledger import Ledger
from copyseal.ledger.note import NoteSigner
from copyseal.witness.server import serving
from copyseal.witness.service import Witness, open_witness
from copyseal.witness.store import WitnessStore
from loopback_tsa import LoopbackTsa, make_pki

ORIGIN = "copyseal.test/anchors"
KEY = SigningKey(b"\x31" * 32)
OTHER_KEY = SigningKey(b"\x32" * 32)
SIGNER = NoteSigner(name=ORIGIN, signing_key=KEY)


@dataclass(frozen=True, kw_only=True)
class Kit:
    """One kind's anchors for the test log."""

    kind: str
    anchoring: Anchor
    verifying: Anchor
    stranger: Anchor
    vkey: str
    #: The verifying context's ``name`` and ``options`` (JSON-safe), for a fresh process.
    public: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class KitContexts:
    """What a kind's anchors need beyond the log's keys: ``name`` and ``options`` of the
    anchoring, verifying and stranger contexts."""

    anchoring: Mapping[str, Any]
    verifying: Mapping[str, Any]
    stranger: Mapping[str, Any]


#: The fixture, per kind that needs one, that gives its :class:`KitContexts`.
KIT_CONTEXTS = {
    "rfc3161": "rfc3161_contexts",
    "evm": "evm_contexts",
    "witness": "witness_contexts",
}


@pytest.fixture(scope="session")
def tsa_rsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackTsa]:
    """A loopback RFC 3161 TSA with RSA keys (``openssl ts -reply``)."""
    pki = make_pki(tmp_path_factory.mktemp("tsa-rsa"), key_type="rsa")
    with LoopbackTsa(pki) as tsa:
        yield tsa


@pytest.fixture(scope="session")
def tsa_ec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackTsa]:
    """A loopback RFC 3161 TSA with P-256 keys, under a CA of its own."""
    pki = make_pki(tmp_path_factory.mktemp("tsa-ec"), key_type="ec")
    with LoopbackTsa(pki) as tsa:
        yield tsa


@pytest.fixture
def rfc3161_contexts(tsa_rsa: LoopbackTsa, tsa_ec: LoopbackTsa) -> KitContexts:
    """The RSA TSA anchors and its CA verifies; the stranger is another TSA (another CA)
    under the same name."""
    ca_file = str(tsa_rsa.pki.ca_cert)
    return KitContexts(
        anchoring={"name": "tsa", "options": {"url": tsa_rsa.url, "ca_file": ca_file}},
        verifying={"name": "tsa", "options": {"ca_file": ca_file}},
        stranger={
            "name": "tsa",
            "options": {"url": tsa_ec.url, "ca_file": str(tsa_ec.pki.ca_cert)},
        },
    )


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilNode]:
    """One anvil on loopback for the session; skipped without it, except under CI."""
    binary = anvil_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("anvil is not installed: run `make anvil`")
        pytest.skip("anvil is not installed (`make anvil` fetches it)")
    with AnvilNode(binary) as node:
        yield node


def evm_key_file(folder: Path, index: int) -> str:
    """Anvil's ``index``-th development key (a public test key) in a 0600 file."""
    path = folder / f"evm-{index}.key"
    path.write_text(DEV_KEYS[index] + "\n", encoding="ascii")
    path.chmod(0o600)
    return str(path)


@pytest.fixture
def evm_contexts(anvil: AnvilNode, ledger: Ledger, tmp_path: Path) -> KitContexts:
    """A fresh anchor contract on anvil, anchored to by development account 0; the verifier
    pins chain, contract and anchorer; the stranger is account 1.

    The contract refuses a size that does not grow, so the log's checkpoints before its
    latest are anchored here first, in the order the log issued them: anchoring one of
    them again then finds it on the chain, as a restarted copyseal does.
    """
    from copyseal.anchors.evm import EvmAnchor

    chain = {"rpc_url": anvil.url, "chain_id": anvil.chain_id, "confirmations": 0}
    ours = {**chain, "key_file": evm_key_file(tmp_path, 0)}
    deployer = EvmAnchor.from_context(AnchorContext(vkey=SIGNER.vkey, options=ours))
    contract = deployer.deploy().contract
    ours["contract"] = contract
    anchoring = {"name": "chain", "options": ours}
    signed = ledger.checkpoints()
    first = anchor_for("evm", replace(AnchorContext.for_signer(SIGNER), **anchoring))
    for older in signed[:-1]:
        first.anchor(older.checkpoint)
    public = {"chain_id": anvil.chain_id, "contract": contract, "anchorer": deployer.address}
    stranger = {**chain, "key_file": evm_key_file(tmp_path, 1), "contract": contract}
    return KitContexts(
        anchoring=anchoring,
        verifying={"name": "chain", "options": public},
        stranger={"name": "chain", "options": stranger},
    )


class FirstSightWitness(Witness):
    """A witness that cosigns each checkpoint as the first it sees of the log (fresh state
    per request, same key). The kit anchors older checkpoints after newer ones, which one
    real witness rightly refuses as a rollback (``test_witness.py`` checks that); the
    proofs are still real cosignatures of the witness's key."""

    def add_checkpoint(self, body: bytes) -> str:
        self.store = WitnessStore(self.store.path.with_name(f"{uuid.uuid4().hex}.sqlite3"))
        return super().add_checkpoint(body)


@pytest.fixture(scope="session")
def kit_witnesses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[tuple[str, str]]]:
    """Two witnesses on loopback, as (url, cosignature vkey): the first witnesses the test
    log, the second the stranger's log of the same name."""
    made = []
    for n, key in (("w1", KEY), ("w2", OTHER_KEY)):
        log = NoteSigner(name=ORIGIN, signing_key=key).verifier
        w = open_witness(tmp_path_factory.mktemp(n), logs={}, name=f"witness.test/{n}")
        made.append(FirstSightWitness(cosigner=w.cosigner, logs={ORIGIN: [log]}, store=w.store))
    with serving(made[0]) as url1, serving(made[1]) as url2:
        yield [(url1, made[0].cosigner.vkey), (url2, made[1].cosigner.vkey)]


@pytest.fixture
def witness_contexts(kit_witnesses: list[tuple[str, str]], ledger: Ledger) -> KitContexts:
    """The first witness cosigns (with the log's consistency proofs at hand) and its vkey
    verifies; the stranger's is another witness under the same configured name."""
    (url, vkey), (other_url, other_vkey) = kit_witnesses
    ours = {"url": url, "vkey": vkey, "consistency": ledger.consistency_proof}
    return KitContexts(
        anchoring={"name": "witness", "options": ours},
        verifying={"name": "witness", "options": {"vkey": vkey}},
        stranger={"name": "witness", "options": {"url": other_url, "vkey": other_vkey}},
    )


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
    fixture = KIT_CONTEXTS.get(kind)
    extra = (
        request.getfixturevalue(fixture)
        if fixture
        else KitContexts(anchoring={}, verifying={}, stranger={})
    )
    return Kit(
        kind=kind,
        anchoring=anchor_for(kind, replace(AnchorContext.for_signer(signer), **extra.anchoring)),
        verifying=anchor_for(kind, AnchorContext(vkey=signer.vkey, **extra.verifying)),
        stranger=anchor_for(kind, replace(AnchorContext.for_signer(stranger), **extra.stranger)),
        vkey=signer.vkey,
        public=extra.verifying,
    )
