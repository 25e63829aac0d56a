"""Witness anchors against two real witnesses on 127.0.0.1, as a real ledger grows."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from copyseal.anchors import AnchorContext, AnchorError, AnchorVerificationError, anchor_for
from copyseal.anchors.witness import WitnessAnchor, cosignature_lines
from copyseal.errors import LedgerError, VerificationError
from copyseal.ledger import Ledger
from copyseal.ledger.note import NoteSigner, parse_note
from copyseal.witness.cosignature import (
    add_signature_lines,
    parse_cosignature_vkey,
    verify_witnesses,
)
from copyseal.witness.server import serving
from copyseal.witness.service import Witness, open_witness

from .conftest import KEY, ORIGIN

SIGNER = NoteSigner(name=ORIGIN, signing_key=KEY)
NOW = 1_796_461_200


def _witness(state: Path, name: str) -> Witness:
    return open_witness(state, logs={ORIGIN: [SIGNER.verifier]}, name=name, clock=lambda: NOW)


@pytest.fixture
def witnesses(tmp_path: Path) -> Iterator[list[tuple[Witness, str]]]:
    """Two witnesses of the test log, each serving HTTP on loopback."""
    w1, w2 = (_witness(tmp_path / n, f"witness.test/{n}") for n in ("w1", "w2"))
    with serving(w1) as url1, serving(w2) as url2:
        yield [(w1, url1), (w2, url2)]


def _anchor(ledger: Ledger, witness: Witness, url: str, **options: object) -> WitnessAnchor:
    opts = {"url": url, "vkey": witness.cosigner.vkey, "consistency": ledger.consistency_proof}
    context = AnchorContext(vkey=SIGNER.vkey, signer=SIGNER, options={**opts, **options})
    anchor = anchor_for("witness", context)
    assert isinstance(anchor, WitnessAnchor)
    return anchor


def _grow(ledger: Ledger, n: int) -> None:
    start = ledger.size()
    ledger.append([("test", b'{"m":%d}' % i) for i in range(start, start + n)])


def test_two_witnesses_cosign_a_growing_ledger(
    ledger: Ledger, witnesses: list[tuple[Witness, str]]
) -> None:
    anchors = [_anchor(ledger, w, url) for w, url in witnesses]
    keys = [parse_cosignature_vkey(w.cosigner.vkey) for w, _ in witnesses]
    for step in range(3):
        checkpoint = ledger.latest_checkpoint().checkpoint
        records = [a.anchor(checkpoint) for a in anchors]
        for anchor, record in zip(anchors, records, strict=True):
            assert anchor.last_size == checkpoint.size
            assert record.anchored_at == datetime.fromtimestamp(NOW, UTC)
            verifier = anchor_for(
                "witness", AnchorContext(vkey=SIGNER.vkey, options={"vkey": anchor.witness_vkey})
            )
            proven = verifier.verify(anchor.prove(record), checkpoint)
            assert (proven.kind, proven.size, proven.root) == (
                "witness",
                checkpoint.size,
                checkpoint.root,
            )
            assert (
                proven.detail == f"cosigned by witness {anchor.name} at 2026-12-05T09:00:00+00:00"
            )
            assert proven.time == datetime.fromtimestamp(NOW, UTC)
        # Both cosignatures on one note: 2 of 2.
        lines = [parse_note(r.payload).signatures[-1] for r in records]
        both = add_signature_lines(records[0].payload.decode(), lines)
        assert len(verify_witnesses(both, keys, min_witnesses=2)) == 2
        with pytest.raises(VerificationError, match="cosigned by 1 of the given witnesses"):
            verify_witnesses(records[0].payload, keys, min_witnesses=2)
        assert cosignature_lines(records[1].payload, anchors[1].witness_vkey) == lines[1].line()
        _grow(ledger, 3 + step)
    head = witnesses[0][0].store.head(ORIGIN)
    assert head is not None and (head.size, ledger.size()) == (15, 20)  # 8, 11, 15 cosigned


def test_a_stale_size_is_recovered_from_the_witness_answer(
    ledger: Ledger, witnesses: list[tuple[Witness, str]]
) -> None:
    (w, url), _ = witnesses
    first = ledger.checkpoint_at(5)
    assert first is not None
    _anchor(ledger, w, url).anchor(first.checkpoint)
    fresh = _anchor(ledger, w, url)  # does not know the witness saw size 5
    assert fresh.last_size == 0
    record = fresh.anchor(ledger.latest_checkpoint().checkpoint)  # 409 "5", then a proof from 5
    assert fresh.last_size == 8 and record.checkpoint.size == 8
    stale = _anchor(ledger, w, url, old_size=5)  # thinks 5, the witness says 8: same checkpoint
    assert stale.anchor(ledger.latest_checkpoint().checkpoint).checkpoint.size == 8
    with pytest.raises(AnchorError, match=r"already cosigned size 8 of copyseal\.test/anchors"):
        stale.anchor(first.checkpoint)  # a rollback is never asked for
    no_proofs = _anchor(ledger, w, url, consistency=None)
    _grow(ledger, 2)
    with pytest.raises(AnchorError, match="needs a consistency proof from size 8"):
        no_proofs.anchor(ledger.latest_checkpoint().checkpoint)


def test_a_log_without_the_proof_is_an_anchor_error(
    ledger: Ledger, witnesses: list[tuple[Witness, str]]
) -> None:
    (w, url), _ = witnesses
    first = ledger.checkpoint_at(5)
    assert first is not None
    _anchor(ledger, w, url).anchor(first.checkpoint)

    def missing(old: int, new: int) -> list[bytes]:
        raise LedgerError(f"no consistency proof from size {old} to {new}")

    with pytest.raises(AnchorError, match="no consistency proof from size 5 for witness"):
        _anchor(ledger, w, url, consistency=missing).anchor(ledger.latest_checkpoint().checkpoint)


def test_a_split_view_is_refused_and_said(
    ledger: Ledger, witnesses: list[tuple[Witness, str]], tmp_path: Path
) -> None:
    """A rewritten log under the same origin and key (re-signed) cannot get a cosignature."""
    (w, url), _ = witnesses
    _anchor(ledger, w, url).anchor(ledger.latest_checkpoint().checkpoint)
    from copyseal import db
    from copyseal.db.base import Base
    from copyseal.db.schema.ledger import ledger_tables

    engine = db.create_engine(f"sqlite:///{tmp_path / 'rewritten.db'}")
    Base.metadata.create_all(engine, tables=ledger_tables())
    try:
        fork = Ledger(engine=engine, origin=ORIGIN, signing_key=KEY)
        fork.append([("test", b'{"n":%d}' % i) for i in range(5)])
        fork.append([("test", b'{"n":"rewritten"}')] * 3)
        checkpoint = fork.latest_checkpoint().checkpoint
        assert checkpoint.size == 8 and checkpoint.root != ledger.root_at(8)
        with pytest.raises(AnchorError, match=r"refused \(422\): split view: the witness cosigned"):
            _anchor(fork, w, url, old_size=8).anchor(checkpoint)
        _grow(fork, 4)
        with pytest.raises(AnchorError, match=r"refused \(422\): inconsistent with size 8"):
            _anchor(fork, w, url).anchor(fork.latest_checkpoint().checkpoint)
    finally:
        engine.dispose()
    assert [r.size for r in w.store.refusals(ORIGIN)] == [8, 12]


def test_a_bad_proof_is_refused(ledger: Ledger, witnesses: list[tuple[Witness, str]]) -> None:
    (w, url), _ = witnesses
    first = ledger.checkpoint_at(5)
    assert first is not None
    _anchor(ledger, w, url).anchor(first.checkpoint)

    def reversed_proof(old: int, new: int) -> list[bytes]:
        return [h[::-1] for h in ledger.consistency_proof(old, new)]

    bad = _anchor(ledger, w, url, old_size=5, consistency=reversed_proof)
    with pytest.raises(AnchorError, match=r"refused \(422\)"):
        bad.anchor(ledger.latest_checkpoint().checkpoint)
    assert bad.last_size == 5


def test_unknown_logs_and_keys_are_refused(
    ledger: Ledger, witnesses: list[tuple[Witness, str]]
) -> None:
    (w, url), _ = witnesses
    other = NoteSigner(name="copyseal.test/other", signing_key=SigningKey(b"\x61" * 32))
    context = AnchorContext(
        vkey=other.vkey, signer=other, options={"url": url, "vkey": w.cosigner.vkey}
    )
    checkpoint = ledger.latest_checkpoint().checkpoint
    other_log = type(checkpoint)(origin=other.name, size=checkpoint.size, root=checkpoint.root)
    with pytest.raises(AnchorError, match=r"refused \(404\): unknown log"):
        anchor_for("witness", context).anchor(other_log)
    impostor = NoteSigner(name=ORIGIN, signing_key=SigningKey(b"\x62" * 32))
    context = AnchorContext(
        vkey=impostor.vkey, signer=impostor, options={"url": url, "vkey": w.cosigner.vkey}
    )
    with pytest.raises(AnchorError, match=r"refused \(403\)"):
        anchor_for("witness", context).anchor(checkpoint)


def test_a_tampered_cosigned_note_fails(
    ledger: Ledger, witnesses: list[tuple[Witness, str]]
) -> None:
    (w, url), (w2, _) = witnesses
    anchor = _anchor(ledger, w, url)
    checkpoint = ledger.latest_checkpoint().checkpoint
    proof = anchor.prove(anchor.anchor(checkpoint))
    line = parse_note(proof).signatures[-1].line().encode()
    at = proof.index(line) + len(line) - 10
    changed = proof[:at] + bytes([proof[at] ^ 0x01]) + proof[at + 1 :]
    with pytest.raises(AnchorVerificationError):
        anchor.verify(changed, checkpoint)
    # Without the cosignature, only the log's signature: not a witness anchor's proof.
    with pytest.raises(AnchorVerificationError, match="not cosigned by witness"):
        anchor.verify(ledger.latest_checkpoint().note.encode(), checkpoint)
    # Another witness's key does not verify it.
    other = _anchor(ledger, w2, "http://127.0.0.1:9/")
    with pytest.raises(AnchorVerificationError, match="not cosigned"):
        other.verify(proof, checkpoint)


def test_a_witness_down_is_an_anchor_error(ledger: Ledger, tmp_path: Path) -> None:
    w = _witness(tmp_path / "down", "witness.test/down")
    with serving(w) as url:
        pass
    anchor = _anchor(ledger, w, url, timeout=2)
    with pytest.raises(AnchorError, match="unreachable"):
        anchor.anchor(ledger.latest_checkpoint().checkpoint)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"vkey": 5}, "must be a witness vkey"),
        ({"vkey": "x", "url": 5}, "must be a URL"),
        ({"vkey": "x", "consistency": 5}, "must be callable"),
        ({"vkey": "x", "old_size": -1}, "must be a size"),
        ({"vkey": "x", "timeout": 0}, "positive seconds"),
    ],
)
def test_bad_options(options: dict[str, object], match: str) -> None:
    with pytest.raises(AnchorError, match=match):
        WitnessAnchor.from_context(AnchorContext(vkey=SIGNER.vkey, options=options))
    with pytest.raises(VerificationError):
        WitnessAnchor.from_context(AnchorContext(vkey=SIGNER.vkey, options={"vkey": SIGNER.vkey}))


def test_without_a_witness_key_nothing_is_anchored_or_proven(ledger: Ledger) -> None:
    bare = anchor_for("witness", AnchorContext.for_signer(SIGNER))
    assert bare.name == "witness"
    checkpoint = ledger.latest_checkpoint().checkpoint
    with pytest.raises(AnchorError, match="needs the log's signer, the witness's url and vkey"):
        bare.anchor(checkpoint)
    with pytest.raises(AnchorVerificationError, match="no key of witness witness"):
        bare.verify(ledger.latest_checkpoint().note.encode(), checkpoint)


_HEAVY = ("scrapy", "twisted", "playwright", "cv2", "faiss", "fastapi", "uvicorn", "sqlalchemy")


def test_the_cli_runs_a_witness(ledger: Ledger, tmp_path: Path) -> None:
    """``copyseal witness vkey`` and ``serve`` in fresh interpreters: the key stays private,
    the served witness cosigns, and neither loads the crawl, web or image stack."""
    state = tmp_path / "state"
    driver = (
        "import json, sys\nfrom copyseal.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {_HEAVY!r})),"
        " file=sys.stderr)\n"
    )
    args = ["witness", "vkey", "--state", str(state), "--name", "witness.test/cli", "--json"]
    out = subprocess.run(
        [sys.executable, "-c", driver, *args], capture_output=True, text=True, timeout=60
    )
    vkey = json.loads(out.stdout)["vkey"]
    assert json.loads(out.stderr.strip().splitlines()[-1]) == []
    assert (state / "witness.key").stat().st_mode & 0o777 == 0o600
    assert (state / "witness.key").read_text().strip() not in out.stdout + out.stderr
    args = ["witness", "serve", "--port", "0", "--state", str(state), "--log", SIGNER.vkey]
    proc = subprocess.Popen(
        [sys.executable, "-c", driver, *args], stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        url = None
        for _ in range(10):
            line = proc.stderr.readline()
            found = re.search(r"on (http://127\.0\.0\.1:\d+/)", line)
            if found:
                url = found.group(1)
                break
        assert url is not None
        anchor = anchor_for(
            "witness",
            AnchorContext(vkey=SIGNER.vkey, signer=SIGNER, options={"url": url, "vkey": vkey}),
        )
        checkpoint = ledger.latest_checkpoint().checkpoint
        assert anchor.verify(anchor.prove(anchor.anchor(checkpoint)), checkpoint).size == 8
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()
