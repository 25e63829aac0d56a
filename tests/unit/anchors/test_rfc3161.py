"""RFC 3161 time stamps on checkpoints, from a loopback ``openssl ts`` TSA (RSA and EC)."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rfc3161_client
from cryptography import x509

from copyseal.anchors import AnchorContext, AnchorError, AnchorVerificationError, anchor_for
from copyseal.anchors.rfc3161 import PROOF_FORMAT, TsaAnchor, TsaProof, checkpoint_body
from copyseal.errors import VerificationError
from copyseal.ledger import Checkpoint, Ledger
from copyseal.ledger.note import NoteSigner
from loopback_tsa import LoopbackTsa, make_pki

from .conftest import KEY, ORIGIN

SIGNER = NoteSigner(name=ORIGIN, signing_key=KEY)


def _anchor(name: str = "tsa", **options: Any) -> TsaAnchor:
    context = AnchorContext(vkey=SIGNER.vkey, signer=SIGNER, name=name, options=options)
    anchor = anchor_for("rfc3161", context)
    assert isinstance(anchor, TsaAnchor)
    return anchor


def _anchoring(tsa: LoopbackTsa, name: str = "tsa") -> TsaAnchor:
    return _anchor(name, url=tsa.url, ca_file=tsa.pki.ca_cert)


def _verifier(ca_file: Path | None, name: str = "tsa") -> TsaAnchor:
    """Built from public material only: the log's vkey and the TSA's CA."""
    options = {} if ca_file is None else {"ca_file": str(ca_file)}
    anchor = anchor_for("rfc3161", AnchorContext(vkey=SIGNER.vkey, name=name, options=options))
    assert isinstance(anchor, TsaAnchor)
    return anchor


@pytest.fixture(params=["rsa", "ec"])
def tsa(request: pytest.FixtureRequest) -> LoopbackTsa:
    """Each loopback TSA in turn (session-scoped servers)."""
    served: LoopbackTsa = request.getfixturevalue(f"tsa_{request.param}")
    return served


@pytest.fixture(scope="module")
def impostor_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA with the loopback CAs' names and another key: it issued no loopback TSA."""
    return make_pki(tmp_path_factory.mktemp("impostor"), key_type="rsa").ca_cert


@pytest.fixture
def broken_tsa(tsa_rsa: LoopbackTsa) -> Iterator[LoopbackTsa]:
    """A TSA of its own (same keys as the RSA one) whose answers a test may spoil."""
    with LoopbackTsa(tsa_rsa.pki) as served:
        yield served


def _proof(tsa: LoopbackTsa, checkpoint: Checkpoint) -> TsaProof:
    anchor = _anchoring(tsa)
    return TsaProof.from_bytes(anchor.prove(anchor.anchor(checkpoint)))


def _flip(data: bytes, index: int) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 0x01
    return bytes(changed)


def test_a_checkpoint_is_stamped_and_verified_offline(tsa: LoopbackTsa, ledger: Ledger) -> None:
    checkpoint = ledger.latest_checkpoint().checkpoint
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    record = _anchoring(tsa).anchor(checkpoint)
    assert (record.kind, record.name, record.checkpoint) == ("rfc3161", "tsa", checkpoint)
    assert record.anchored_at is not None
    assert before <= record.anchored_at <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)

    proof = _anchoring(tsa).prove(record)
    parsed = TsaProof.from_bytes(proof)
    assert json.loads(proof)["format"] == PROOF_FORMAT
    assert parsed.body == checkpoint.format() and parsed.gen_time == record.anchored_at
    # The token stamps SHA-256 of the checkpoint's body, the signed note's text.
    note = ledger.latest_checkpoint().note
    assert checkpoint_body(checkpoint) == note[: note.index("\n\n") + 1].encode()
    response = rfc3161_client.decode_timestamp_response(parsed.token)
    imprint = response.tst_info.message_imprint
    assert imprint.hash_algorithm.dotted_string == "2.16.840.1.101.3.4.2.1"
    assert imprint.message == hashlib.sha256(checkpoint_body(checkpoint)).digest()
    assert response.tst_info.nonce is not None
    # The chain is the token's certificates, the TSA's own first.
    tsa_cert = x509.load_pem_x509_certificate(parsed.chain[0].encode())
    assert tsa_cert == x509.load_pem_x509_certificate(tsa.pki.tsa_cert.read_bytes())

    proven = _verifier(tsa.pki.ca_cert).verify(proof, checkpoint)
    assert (proven.kind, proven.name, proven.checkpoint) == ("rfc3161", "tsa", checkpoint)
    assert proven.time == record.anchored_at and proven.block is None
    serial = response.tst_info.serial_number
    assert re.fullmatch(
        rf"{re.escape(ORIGIN)} size 8 existed no later than \S+\+00:00, by TSA tsa"
        rf" \(CN=Loopback {tsa.pki.key_type.upper()} Test TSA,O=copyseal tests, serial {serial}\)",
        proven.detail,
    )


def test_openssl_verifies_the_token_for_the_body(
    tsa: LoopbackTsa, ledger: Ledger, tmp_path: Path, impostor_ca: Path
) -> None:
    """What a court expert runs by hand (RFC 3161 check with OpenSSL's ``ts`` command)."""
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command is needed (Debian's openssl package)"
    older, newer = (signed.checkpoint for signed in ledger.checkpoints())
    proof = _proof(tsa, newer)
    (tmp_path / "token.tsr").write_bytes(proof.token)
    (tmp_path / "tsa.pem").write_text(proof.chain[0], encoding="ascii")
    (tmp_path / "body.txt").write_text(proof.body, encoding="utf-8")
    (tmp_path / "older.txt").write_bytes(checkpoint_body(older))

    def openssl_verify(
        data: str, ca: Path, *, untrusted: bool = True
    ) -> subprocess.CompletedProcess[str]:
        extra = ("-untrusted", str(tmp_path / "tsa.pem")) if untrusted else ()
        return subprocess.run(
            [
                *(openssl, "ts", "-verify", "-data", str(tmp_path / data)),
                *("-in", str(tmp_path / "token.tsr"), "-CAfile", str(ca), *extra),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    for untrusted in (True, False):  # the token embeds the TSA's certificate too
        ok = openssl_verify("body.txt", tsa.pki.ca_cert, untrusted=untrusted)
        assert ok.returncode == 0 and "Verification: OK" in ok.stdout, ok.stderr
    wrong_body = openssl_verify("older.txt", tsa.pki.ca_cert)
    assert wrong_body.returncode != 0 and "message imprint mismatch" in wrong_body.stderr
    wrong_ca = openssl_verify("body.txt", impostor_ca)
    assert wrong_ca.returncode != 0 and "Verification: FAILED" in wrong_ca.stdout


def _rejected(verifier: TsaAnchor, proof: TsaProof | bytes, checkpoint: Checkpoint) -> str:
    data = proof.to_bytes() if isinstance(proof, TsaProof) else proof
    with pytest.raises(AnchorVerificationError) as info:
        verifier.verify(data, checkpoint)
    return str(info.value)


def test_a_changed_token_chain_body_or_time_is_rejected(tsa: LoopbackTsa, ledger: Ledger) -> None:
    older, newer = (signed.checkpoint for signed in ledger.checkpoints())
    proof = _proof(tsa, newer)
    verifier = _verifier(tsa.pki.ca_cert)
    assert verifier.verify(proof.to_bytes(), newer).size == 8
    # The token: its signature (the last bytes), its TSTInfo (the stamped time) and its
    # unsigned CMS fields (versions, the signature algorithm: see the conformance kit).
    token = proof.token
    gen_time = token.index(proof.gen_time.strftime("%Y%m%d%H%M%S").encode())
    for index in (len(token) - 3, gen_time + 3, 34):
        changed = dataclasses.replace(proof, token=_flip(token, index))
        assert "the TSA token does not verify" in _rejected(verifier, changed, newer)
    # The chain: a byte of the TSA's certificate, or another certificate added.
    pem = proof.chain[0]
    flipped = pem[:100] + ("A" if pem[100] != "A" else "B") + pem[101:]
    for chain in ((flipped,), (*proof.chain, tsa.pki.ca_cert.read_text())):
        changed = dataclasses.replace(proof, chain=chain)
        assert "chain is not the token's certificates" in _rejected(verifier, changed, newer)
    # The body: a byte of it, or another checkpoint's body (against either checkpoint).
    flipped_body = proof.body.replace("\n8\n", "\n9\n")
    for body in (flipped_body, older.format()):
        changed = dataclasses.replace(proof, body=body)
        assert "stamps another checkpoint" in _rejected(verifier, changed, newer)
    message = _rejected(verifier, dataclasses.replace(proof, body=older.format()), older)
    assert "Mismatch between messages" in message
    # The stated time, and the TSA's name.
    later = dataclasses.replace(proof, gen_time=proof.gen_time - dt.timedelta(days=1))
    assert "gen_time is not the token's" in _rejected(verifier, later, newer)
    renamed = dataclasses.replace(proof, tsa="other")
    assert "the proof is TSA other's, not tsa's" in _rejected(verifier, renamed, newer)


def test_only_the_verifiers_own_ca_is_trusted(
    tsa_rsa: LoopbackTsa, tsa_ec: LoopbackTsa, ledger: Ledger, impostor_ca: Path
) -> None:
    """The CA comes from the verifier: a token of another TSA, or one whose CA has the same
    name and another key, fails, whatever certificates the proof brings along."""
    checkpoint = ledger.latest_checkpoint().checkpoint
    rsa_proof, ec_proof = _proof(tsa_rsa, checkpoint), _proof(tsa_ec, checkpoint)
    for ca, proof in ((tsa_ec.pki.ca_cert, rsa_proof), (tsa_rsa.pki.ca_cert, ec_proof)):
        assert "does not verify" in _rejected(_verifier(ca), proof, checkpoint)
    assert "does not verify" in _rejected(_verifier(impostor_ca), rsa_proof, checkpoint)
    # Bringing the CA along in the chain changes nothing but the chain check.
    with_ca = dataclasses.replace(ec_proof, chain=(*ec_proof.chain, tsa_ec.pki.ca_cert.read_text()))
    assert "does not verify" in _rejected(_verifier(tsa_rsa.pki.ca_cert), with_ca, checkpoint)
    # Without a CA of its own, the verifier refuses to judge.
    message = _rejected(_verifier(None), rsa_proof, checkpoint)
    assert "TSA tsa: no trusted CA (anchors.tsa.tsa.ca_file)" in message
    missing = tsa_rsa.pki.ca_cert.parent / "missing.pem"
    assert "cannot read its CA" in _rejected(_verifier(missing), rsa_proof, checkpoint)


def test_a_proof_for_another_checkpoint_or_log_is_rejected(
    tsa_rsa: LoopbackTsa, ledger: Ledger
) -> None:
    older, newer = (signed.checkpoint for signed in ledger.checkpoints())
    verifier = _verifier(tsa_rsa.pki.ca_cert)
    proof = _proof(tsa_rsa, older)
    assert "stamps another checkpoint" in _rejected(verifier, proof, newer)
    elsewhere = Checkpoint(origin="copyseal.test/elsewhere", size=5, root=older.root)
    assert "expected 'copyseal.test/anchors'" in _rejected(verifier, proof, elsewhere)
    with pytest.raises(AnchorError, match=r"checkpoint of log 'copyseal\.test/elsewhere'"):
        _anchoring(tsa_rsa).anchor(elsewhere)


def test_the_proof_is_canonical_json(tsa_rsa: LoopbackTsa, ledger: Ledger) -> None:
    checkpoint = ledger.latest_checkpoint().checkpoint
    proof = _proof(tsa_rsa, checkpoint)
    data = proof.to_bytes()
    assert TsaProof.from_bytes(data) == proof
    doc = json.loads(data)
    assert list(doc) == ["format", "tsa", "checkpoint", "gen_time", "token", "chain"]
    assert base64.b64decode(doc["token"]) == proof.token
    verifier = _verifier(tsa_rsa.pki.ca_cert)
    compact = json.dumps(doc, separators=(",", ":")).encode()
    assert "not in canonical form" in _rejected(verifier, compact, checkpoint)
    padded = json.dumps({**doc, "token": doc["token"] + "===="}, indent=2).encode() + b"\n"
    assert "malformed rfc3161 proof" in _rejected(verifier, padded, checkpoint)
    for key, value in (("format", "other/v1"), ("chain", "x"), ("gen_time", "yesterday")):
        bad = json.dumps({**doc, key: value}, indent=2).encode() + b"\n"
        with pytest.raises(VerificationError, match="proof"):
            verifier.verify(bad, checkpoint)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_a_tsa_that_is_down_or_broken_is_an_anchor_error_naming_it(
    broken_tsa: LoopbackTsa, ledger: Ledger, impostor_ca: Path
) -> None:
    checkpoint = ledger.latest_checkpoint().checkpoint
    ca = broken_tsa.pki.ca_cert
    down = f"http://127.0.0.1:{_free_port()}/tsa"
    with pytest.raises(AnchorError, match=rf"TSA down \({re.escape(down)}\): unreachable: "):
        _anchor("down", url=down, ca_file=ca).anchor(checkpoint)
    anchor = _anchoring(broken_tsa, name="broken")
    named = rf"TSA broken \({re.escape(broken_tsa.url)}\): "
    broken_tsa.mode = "error"
    with pytest.raises(AnchorError, match=named + "answered HTTP 500"):
        anchor.anchor(checkpoint)
    broken_tsa.mode = "garbage"
    with pytest.raises(AnchorError, match=named + "answer is not a DER TimeStampResp"):
        anchor.anchor(checkpoint)
    # A replayed token (an earlier answer, another nonce) is refused.
    broken_tsa.mode = "reply"
    anchor.anchor(checkpoint)
    broken_tsa.mode = "replay"
    with pytest.raises(AnchorError, match=named + "its token does not verify: Nonce mismatch"):
        anchor.anchor(checkpoint)
    # A TSA whose certificate the configured CA did not issue.
    broken_tsa.mode = "reply"
    other = _anchor("broken", url=broken_tsa.url, ca_file=impostor_ca)
    with pytest.raises(AnchorError, match=named + "its token does not verify"):
        other.anchor(checkpoint)


def test_anchoring_needs_a_url_and_a_ca(tsa_rsa: LoopbackTsa, ledger: Ledger) -> None:
    checkpoint = ledger.latest_checkpoint().checkpoint
    with pytest.raises(AnchorError, match=r"TSA tsa \(None\): no http\(s\) url configured"):
        _anchor(ca_file=tsa_rsa.pki.ca_cert).anchor(checkpoint)
    with pytest.raises(AnchorError, match="no http"):
        _anchor(url="file:///etc/passwd", ca_file=tsa_rsa.pki.ca_cert).anchor(checkpoint)
    with pytest.raises(AnchorError, match="no trusted CA"):
        _anchor(url=tsa_rsa.url).anchor(checkpoint)
    with pytest.raises(AnchorError, match="timeout must be a positive number"):
        _anchor(url=tsa_rsa.url, timeout=0)
    with pytest.raises(AnchorError, match="url must be a string"):
        _anchor(url=8080)


def test_another_anchors_record_is_not_proven(tsa_rsa: LoopbackTsa, ledger: Ledger) -> None:
    older, newer = (signed.checkpoint for signed in ledger.checkpoints())
    anchor = _anchoring(tsa_rsa)
    record = anchor.anchor(newer)
    with pytest.raises(AnchorError, match="TSA tsa: the record's proof is of another checkpoint"):
        anchor.prove(dataclasses.replace(record, checkpoint=older))
    with pytest.raises(AnchorError, match="TSA tsa: the record holds no proof"):
        anchor.prove(dataclasses.replace(record, payload=b"{}"))
    with pytest.raises(AnchorError, match="a ledger record of 'tsa' given to TSA tsa"):
        anchor.prove(dataclasses.replace(record, kind="ledger"))


def test_two_stamps_of_one_checkpoint_are_two_tokens(tsa_ec: LoopbackTsa, ledger: Ledger) -> None:
    checkpoint = ledger.latest_checkpoint().checkpoint
    first, second = _proof(tsa_ec, checkpoint), _proof(tsa_ec, checkpoint)
    assert first.token != second.token and first.chain == second.chain
    serials = {
        rfc3161_client.decode_timestamp_response(p.token).tst_info.serial_number
        for p in (first, second)
    }
    assert len(serials) == 2
    verifier = _verifier(tsa_ec.pki.ca_cert)
    assert verifier.verify(second.to_bytes(), checkpoint).time == second.gen_time
