"""A loopback RFC 3161 time-stamping authority, built on ``openssl ts -reply``.

:func:`make_pki` writes a CA and a TSA certificate (``extendedKeyUsage=critical,
timeStamping``, RFC 3161 §2.3) with RSA or P-256 keys, and the ``[tsa]`` section of an
``openssl.cnf`` (OpenSSL's ``ts(1)`` manual); :class:`LoopbackTsa` serves HTTP on
127.0.0.1 and answers each POSTed ``application/timestamp-query`` by running
``openssl ts -reply`` on it (RFC 3161 §3.4, "TSP over HTTP"). It can also answer garbage
or an HTTP error, to test how a client copes with a broken TSA. The CA is made on the
spot: its tokens are for the demo, benchmarks and tests, never for evidence.

Tokens embed the TSA's certificate only (as many public TSAs do), not its CA: OpenSSL
writes the CMS ``certificates`` SET in the order it adds them (signer first), which DER
(X.690 §11.6) allows only when that happens to be the sorted order, and rfc3161-client's
strict DER parser refuses an unsorted SET. The CA comes from the verifier anyway.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from copyseal.loopback.errors import LoopbackError

__all__ = ["POLICY", "KeyType", "LoopbackTsa", "Mode", "TsaPki", "make_pki", "openssl"]

KeyType = Literal["rsa", "ec"]
#: What the server answers: a real token, the token it gave last (whatever was asked),
#: bytes that are no TimeStampResp, or HTTP 500.
Mode = Literal["reply", "replay", "garbage", "error"]

#: The policy the loopback TSA stamps under (an OID under the documentation arc).
POLICY = "1.3.6.1.4.1.4146.2.3"
_TIMEOUT = 30


def openssl() -> str:
    """The ``openssl`` binary (Debian ships it); fails clearly when it is missing."""
    found = shutil.which("openssl")
    if found is None:
        raise LoopbackError("the loopback TSA needs the openssl command (apt-get install openssl)")
    return found


@dataclass(frozen=True, kw_only=True)
class TsaPki:
    """The files of one loopback TSA: its CA, its certificate and key, and its OpenSSL
    configuration."""

    key_type: KeyType
    ca_cert: Path
    tsa_cert: Path
    tsa_key: Path
    config: Path


def _key(key_type: KeyType) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_pki(
    folder: Path,
    *,
    key_type: KeyType,
    label: str = "Loopback",
    organization: str = "copyseal tests",
) -> TsaPki:
    """Write a CA, a TSA certificate signed by it, and the TSA's ``openssl.cnf`` into
    ``folder`` (created); the certificates' names carry ``label`` and ``organization``."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    start, end = now - dt.timedelta(days=1), now + dt.timedelta(days=365)
    ca_key, tsa_key = _key(key_type), _key(key_type)
    ca_name = _name(f"{label} {key_type.upper()} Test CA", organization)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    tsa = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{label} {key_type.upper()} Test TSA", organization))
        .issuer_name(ca_name)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pki = TsaPki(
        key_type=key_type,
        ca_cert=folder / "ca.pem",
        tsa_cert=folder / "tsa.pem",
        tsa_key=folder / "tsa.key",
        config=folder / "openssl.cnf",
    )
    pki.ca_cert.write_bytes(_pem(ca))
    pki.tsa_cert.write_bytes(_pem(tsa))
    pki.tsa_key.write_bytes(
        tsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pki.tsa_key.chmod(0o600)
    (folder / "serial").write_text("01\n", encoding="ascii")
    pki.config.write_text(
        f"""[ tsa ]
default_tsa = loopback_tsa

[ loopback_tsa ]
dir = {folder}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = {POLICY}
other_policies = {POLICY}.1
digests = sha256, sha384, sha512
accuracy = secs:1, millisecs:500, microsecs:100
clock_precision_digits = 0
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
""",
        encoding="utf-8",
    )
    return pki


class LoopbackTsa:
    """An HTTP time-stamping authority on 127.0.0.1, a free port; use as a context manager
    (or :meth:`start` / :meth:`stop`).

    ``mode`` may be changed while it runs; ``queries`` counts the requests it answered.
    """

    def __init__(self, pki: TsaPki, *, mode: Mode = "reply") -> None:
        self.pki = pki
        self.mode: Mode = mode
        self.queries = 0
        self.last: bytes | None = None
        self._openssl = openssl()
        self._lock = threading.Lock()  # one `openssl ts -reply` at a time: it bumps `serial`
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise LoopbackError("the loopback TSA is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/tsa"

    def reply(self, query: bytes) -> bytes:
        """``openssl ts -reply`` for one DER TimeStampReq: the DER TimeStampResp."""
        with self._lock, tempfile.TemporaryDirectory(prefix="tsq-") as tmp:
            query_file, reply_file = Path(tmp) / "query.tsq", Path(tmp) / "reply.tsr"
            query_file.write_bytes(query)
            subprocess.run(
                [
                    self._openssl,
                    "ts",
                    "-reply",
                    "-config",
                    str(self.pki.config),
                    "-queryfile",
                    str(query_file),
                    "-signer",
                    str(self.pki.tsa_cert),
                    "-inkey",
                    str(self.pki.tsa_key),
                    "-out",
                    str(reply_file),
                ],
                check=True,
                capture_output=True,
                timeout=_TIMEOUT,
            )
            self.queries += 1
            self.last = reply_file.read_bytes()
            return self.last

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                mode = tsa.mode
                if mode == "error":
                    self._send(500, "text/plain", b"the TSA is out of order\n")
                elif mode == "garbage":
                    self._send(200, "application/timestamp-reply", b"\x30\x03\x02\x01\x63")
                elif mode == "replay" and tsa.last is not None:
                    self._send(200, "application/timestamp-reply", tsa.last)
                elif self.headers.get("Content-Type") != "application/timestamp-query":
                    self._send(415, "text/plain", b"expected application/timestamp-query\n")
                else:
                    try:
                        answer = tsa.reply(query)
                    except subprocess.CalledProcessError as e:
                        self._send(400, "text/plain", e.stderr)
                        return
                    self._send(200, "application/timestamp-reply", answer)

            def _send(self, status: int, media_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", media_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # one line per query would drown the caller's output

        return Handler

    def start(self) -> LoopbackTsa:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> LoopbackTsa:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
