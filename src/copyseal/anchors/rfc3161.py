"""RFC 3161 time stamps on checkpoints (kind ``rfc3161``).

Anchoring asks a time-stamping authority (TSA) to sign the SHA-256 of the checkpoint's
body, the note text the log's key signs (C2SP tlog-checkpoint: origin, size, root and
extension lines, each ending in a newline, without the signature lines), with a random
nonce and ``certReq`` set (RFC 3161 §2.4.1), over HTTP (§3.4: POST
``application/timestamp-query``, answer ``application/timestamp-reply``). The answer is
checked with ``rfc3161-client`` against the CA the configuration trusts (``anchors.tsa.NAME
.ca_file``) before it is kept.

The proof (:class:`TsaProof`) is a JSON document holding the DER ``TimeStampResp`` (the
``.tsr`` file), the certificates the token embeds, the checkpoint body and the time the
TSA states. Verifying it needs no network: the body must be the checkpoint's, the token
must verify under the *verifier's* CA (never a certificate the proof brings along), its
message imprint must be SHA-256 of the body, and everything else in the proof must be what
the token says, so that no byte of a proof is free to change. The same check by hand::

    openssl ts -verify -data body.txt -in token.tsr -CAfile tsa-ca.pem -untrusted tsa.pem

A token proves that the checkpoint, and every ledger entry it covers, existed no later
than the TSA's ``genTime``; it says nothing of when the entries were made before that, and
it is only as good as the TSA and its CA.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import rfc3161_client
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from copyseal import _json
from copyseal.anchors._cms import check_signer
from copyseal.anchors.base import (
    AnchorContext,
    AnchorError,
    AnchorRecord,
    AnchorVerificationError,
    Proven,
)
from copyseal.ledger.checkpoint import Checkpoint
from copyseal.ledger.note import parse_vkey
from copyseal.times import iso, utc

__all__ = ["KIND", "PROOF_FORMAT", "TsaAnchor", "TsaProof", "checkpoint_body"]

#: This kind's key in :data:`copyseal.anchors.ANCHORS`.
KIND = "rfc3161"
#: The ``format`` member of every proof this module writes.
PROOF_FORMAT = "copyseal-rfc3161-proof/v1"
#: RFC 3161 §3.4 media types.
QUERY_MEDIA_TYPE = "application/timestamp-query"
REPLY_MEDIA_TYPE = "application/timestamp-reply"
#: Bounds on what is read: a TSA's answer and a proof (tokens are a few KiB).
MAX_REPLY_BYTES = 1 << 20
MAX_PROOF_BYTES = 1 << 20
DEFAULT_TIMEOUT = 30.0

_SHA256 = "2.16.840.1.101.3.4.2.1"
_PROOF_KEYS = ("format", "tsa", "checkpoint", "gen_time", "token", "chain")
#: What checking a token raises when it does not prove what it should (rfc3161-client's
#: own error, and the ones its parsers and lookups raise on a malformed token).
_TOKEN_ERRORS = (ValueError, TypeError, LookupError, rfc3161_client.VerificationError)


def checkpoint_body(checkpoint: Checkpoint) -> bytes:
    """The bytes a TSA stamps: the checkpoint's note text, final newline included."""
    return checkpoint.format().encode("utf-8")


# -- proofs -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TsaProof:
    """A self-contained RFC 3161 anchor proof.

    ``token`` is the DER ``TimeStampResp``; ``chain`` the PEM certificates the token
    embeds, the TSA's own first; ``body`` the stamped checkpoint text; ``gen_time`` the
    token's ``genTime``; ``tsa`` the configured name of the TSA.
    """

    tsa: str
    body: str
    token: bytes
    chain: tuple[str, ...]
    gen_time: datetime

    def to_bytes(self) -> bytes:
        """Canonical JSON (two-space indent, ASCII, keys in a fixed order, final newline);
        :meth:`from_bytes` accepts nothing else."""
        doc = {
            "format": PROOF_FORMAT,
            "tsa": self.tsa,
            "checkpoint": self.body,
            "gen_time": iso(self.gen_time),
            "token": base64.b64encode(self.token).decode("ascii"),
            "chain": list(self.chain),
        }
        return (json.dumps(doc, indent=2, ensure_ascii=True) + "\n").encode("ascii")

    @classmethod
    def from_bytes(cls, data: bytes) -> TsaProof:
        """Parse a proof written by :meth:`to_bytes`, byte for byte.

        Raises:
            AnchorVerificationError: not such a proof.
        """
        if len(data) > MAX_PROOF_BYTES:
            raise AnchorVerificationError("malformed rfc3161 proof: too large")
        try:
            doc = _json.loads(data.decode("ascii"))
        except (UnicodeDecodeError, ValueError) as e:
            raise AnchorVerificationError("malformed rfc3161 proof: not ASCII JSON") from e
        if not isinstance(doc, dict) or tuple(doc) != _PROOF_KEYS:
            raise AnchorVerificationError(f"malformed rfc3161 proof: expected keys {_PROOF_KEYS}")
        if doc["format"] != PROOF_FORMAT:
            raise AnchorVerificationError(f"not an rfc3161 proof: format {doc['format']!r}")
        chain = doc["chain"]
        texts = (doc["tsa"], doc["checkpoint"], doc["gen_time"], doc["token"])
        if not all(isinstance(t, str) for t in texts) or not (
            isinstance(chain, list) and all(isinstance(c, str) for c in chain)
        ):
            raise AnchorVerificationError("malformed rfc3161 proof: a member has the wrong type")
        try:
            token = base64.b64decode(doc["token"].encode("ascii"), validate=True)
            gen_time = datetime.fromisoformat(doc["gen_time"])
        except (binascii.Error, ValueError) as e:
            raise AnchorVerificationError(f"malformed rfc3161 proof: {e}") from e
        if gen_time.utcoffset() is None:
            raise AnchorVerificationError("malformed rfc3161 proof: gen_time without offset")
        proof = cls(
            tsa=doc["tsa"],
            body=doc["checkpoint"],
            token=token,
            chain=tuple(chain),
            gen_time=utc(gen_time),
        )
        if proof.to_bytes() != data:
            raise AnchorVerificationError("malformed rfc3161 proof: not in canonical form")
        return proof


# -- the anchor ---------------------------------------------------------------------------


def _pem(der: bytes) -> str:
    return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM).decode("ascii")


@dataclass(frozen=True)
class _Checked:
    gen_time: datetime
    serial: int
    signer: x509.Certificate
    chain: tuple[str, ...]


class TsaAnchor:
    """A time-stamping authority's RFC 3161 tokens on checkpoints (kind ``rfc3161``).

    Args:
        name: the TSA's configured name (``anchors.tsa.NAME``); proofs carry it.
        origin: the log whose checkpoints this anchor stamps.
        url: where the TSA answers queries; without it the anchor can only verify.
        ca_file: PEM certificate(s) of the CA the TSA's certificate must chain to.
        timeout: seconds to wait for the TSA.
    """

    def __init__(
        self,
        *,
        name: str,
        origin: str,
        url: str | None = None,
        ca_file: Path | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._name = name
        self._origin = origin
        self._url = url
        self._ca_file = ca_file
        self._timeout = timeout

    @classmethod
    def from_context(cls, context: AnchorContext) -> TsaAnchor:
        """Built from ``context.options`` (``url``, ``ca_file``, optional ``timeout``) and
        ``context.name``; the log's origin is ``context.origin`` or its vkey's name.

        Raises:
            VerificationError: the vkey is malformed.
            AnchorError: an option has the wrong type.
        """
        options = context.options
        url, ca_file = options.get("url"), options.get("ca_file")
        timeout = options.get("timeout", DEFAULT_TIMEOUT)
        if url is not None and not isinstance(url, str):
            raise AnchorError(f"TSA {context.name}: url must be a string")
        if ca_file is not None and not isinstance(ca_file, str | Path):
            raise AnchorError(f"TSA {context.name}: ca_file must be a path")
        if not isinstance(timeout, int | float) or timeout <= 0:
            raise AnchorError(f"TSA {context.name}: timeout must be a positive number")
        origin = context.origin or parse_vkey(context.vkey).name
        return cls(
            name=context.name or KIND,
            origin=origin,
            url=url,
            ca_file=None if ca_file is None else Path(ca_file),
            timeout=float(timeout),
        )

    @property
    def kind(self) -> str:
        return KIND

    @property
    def name(self) -> str:
        return self._name

    def _roots(self, error: type[Exception]) -> list[x509.Certificate]:
        if self._ca_file is None:
            raise error(f"TSA {self._name}: no trusted CA (anchors.tsa.{self._name}.ca_file)")
        try:
            return x509.load_pem_x509_certificates(self._ca_file.read_bytes())
        except (OSError, ValueError) as e:
            raise error(f"TSA {self._name}: cannot read its CA {self._ca_file}: {e}") from e

    def _check(
        self,
        response: rfc3161_client.TimeStampResponse,
        body: bytes,
        roots: Sequence[x509.Certificate],
        request: rfc3161_client.TimeStampRequest | None = None,
    ) -> _Checked:
        """rfc3161-client's verification (status granted, CMS signature and chain under
        ``roots`` at genTime, critical id-kp-timeStamping EKU, nonce when ``request`` is
        given) plus an imprint that is SHA-256 of ``body``.

        Raises:
            ValueError, LookupError, rfc3161_client.VerificationError: the token does
                not prove it.
        """
        imprint = response.tst_info.message_imprint
        if imprint.hash_algorithm.dotted_string != _SHA256:
            raise ValueError(f"message imprint is not SHA-256 ({imprint.hash_algorithm})")
        builder = (
            rfc3161_client.VerifierBuilder()
            if request is None
            else rfc3161_client.VerifierBuilder.from_request(request)
        )
        for root in roots:
            builder = builder.add_root_certificate(root)
        builder.build().verify(response, hashlib.sha256(body).digest())
        signer_info = next(iter(response.signed_data.signer_infos))
        embedded = [x509.load_der_x509_certificate(c) for c in response.signed_data.certificates]
        signers = [
            c
            for c in embedded
            if (c.issuer, c.serial_number) == (signer_info.issuer, signer_info.serial_number)
        ]
        signer = signers[0]  # rfc3161-client found it, or it would have failed
        check_signer(response.as_bytes(), signer)
        others = sorted(
            (c.public_bytes(Encoding.DER) for c in embedded if c != signer), key=bytes.hex
        )
        chain = tuple(_pem(der) for der in [signer.public_bytes(Encoding.DER), *others])
        return _Checked(
            gen_time=utc(response.tst_info.gen_time),
            serial=response.tst_info.serial_number,
            signer=signer,
            chain=chain,
        )

    def _fail(self, reason: str) -> AnchorError:
        return AnchorError(f"TSA {self._name} ({self._url}): {reason}")

    def _post(self, query: bytes) -> bytes:
        url = self._url
        if url is None or urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise self._fail("no http(s) url configured (anchors.tsa.NAME.url)")
        request = urllib.request.Request(
            url,
            data=query,
            method="POST",
            headers={"Content-Type": QUERY_MEDIA_TYPE, "Accept": REPLY_MEDIA_TYPE},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                media_type = response.headers.get_content_type()
                answer: bytes = response.read(MAX_REPLY_BYTES + 1)
        except urllib.error.HTTPError as e:
            e.close()
            raise self._fail(f"answered HTTP {e.code} {e.reason}") from e
        except urllib.error.URLError as e:
            raise self._fail(f"unreachable: {e.reason}") from e
        except (OSError, http.client.HTTPException) as e:
            raise self._fail(f"unreachable: {e.__class__.__name__}: {e}") from e
        if len(answer) > MAX_REPLY_BYTES:
            raise self._fail(f"answer larger than {MAX_REPLY_BYTES} bytes")
        if media_type != REPLY_MEDIA_TYPE:
            raise self._fail(f"answered {media_type}, not {REPLY_MEDIA_TYPE}")
        return answer

    def anchor(self, checkpoint: Checkpoint) -> AnchorRecord:
        """Have the TSA stamp the checkpoint's body, and check its token.

        Raises:
            AnchorError: another log's checkpoint, no url or CA, the TSA is unreachable or
                refuses, or its answer is not a token for this body under the trusted CA;
                the message names the TSA.
        """
        if checkpoint.origin != self._origin:
            raise AnchorError(
                f"checkpoint of log {checkpoint.origin!r} given to TSA {self._name}"
                f" anchoring {self._origin!r}"
            )
        roots = self._roots(AnchorError)
        body = checkpoint_body(checkpoint)
        query = (
            rfc3161_client.TimestampRequestBuilder()
            .data(body)
            .hash_algorithm(rfc3161_client.HashAlgorithm.SHA256)
            .nonce(nonce=True)
            .cert_request(cert_request=True)
            .build()
        )
        answer = self._post(query.as_bytes())
        try:
            response = rfc3161_client.decode_timestamp_response(answer)
        except ValueError as e:
            raise self._fail(f"answer is not a DER TimeStampResp: {e}") from e
        if response.status != rfc3161_client.PKIStatus.GRANTED:
            said = "; ".join(response.status_string)
            raise self._fail(f"refused the query: status {response.status} {said}".rstrip())
        try:
            checked = self._check(response, body, roots, query)
        except _TOKEN_ERRORS as e:
            raise self._fail(f"its token does not verify: {e}") from e
        proof = TsaProof(
            tsa=self._name,
            body=body.decode("utf-8"),
            token=answer,
            chain=checked.chain,
            gen_time=checked.gen_time,
        )
        return AnchorRecord(
            kind=KIND,
            name=self._name,
            checkpoint=checkpoint,
            payload=proof.to_bytes(),
            anchored_at=checked.gen_time,
        )

    def prove(self, record: AnchorRecord) -> bytes:
        """The record's payload, which is already a self-contained :class:`TsaProof`.

        Raises:
            AnchorError: the record is another anchor's, or its payload is no proof.
        """
        if record.kind != KIND or record.name != self._name:
            raise AnchorError(
                f"a {record.kind} record of {record.name!r} given to TSA {self._name}"
            )
        try:
            proof = TsaProof.from_bytes(record.payload)
        except AnchorVerificationError as e:
            raise AnchorError(f"TSA {self._name}: the record holds no proof: {e}") from e
        if proof.body != record.checkpoint.format():
            raise AnchorError(f"TSA {self._name}: the record's proof is of another checkpoint")
        return record.payload

    def verify(self, proof: bytes, checkpoint: Checkpoint) -> Proven:
        """Check offline that ``proof`` is a token of this TSA, under the configured CA, on
        exactly ``checkpoint``'s body.

        Raises:
            AnchorVerificationError: no CA configured, a malformed proof, another TSA's or
                another checkpoint's proof, or a token that does not verify.
        """
        roots = self._roots(AnchorVerificationError)
        parsed = TsaProof.from_bytes(proof)
        if parsed.tsa != self._name:
            raise AnchorVerificationError(f"the proof is TSA {parsed.tsa}'s, not {self._name}'s")
        if checkpoint.origin != self._origin:
            raise AnchorVerificationError(
                f"checkpoint is for log {checkpoint.origin!r}, expected {self._origin!r}"
            )
        body = checkpoint_body(checkpoint)
        if parsed.body.encode("utf-8") != body:
            raise AnchorVerificationError("the proof stamps another checkpoint than the one given")
        try:
            response = rfc3161_client.decode_timestamp_response(parsed.token)
            checked = self._check(response, body, roots)
        except _TOKEN_ERRORS as e:
            raise AnchorVerificationError(f"the TSA token does not verify: {e}") from e
        if response.as_bytes() != parsed.token:
            raise AnchorVerificationError("the TSA token is not in DER")
        if checked.chain != parsed.chain:
            raise AnchorVerificationError("the proof's chain is not the token's certificates")
        if checked.gen_time != parsed.gen_time:
            raise AnchorVerificationError("the proof's gen_time is not the token's")
        subject = checked.signer.subject.rfc4514_string()
        return Proven(
            kind=KIND,
            name=self._name,
            origin=checkpoint.origin,
            size=checkpoint.size,
            root=checkpoint.root,
            time=checked.gen_time,
            detail=(
                f"{checkpoint.origin} size {checkpoint.size} existed no later than"
                f" {iso(checked.gen_time)}, by TSA {self._name} ({subject},"
                f" serial {checked.serial})"
            ),
        )
