"""The fields of an RFC 3161 token's CMS SignedData that no signature covers, read strictly.

OpenSSL's CMS verifier, which rfc3161-client calls, ignores a SignerInfo's
``signatureAlgorithm`` and neither library looks at the SignedData and SignerInfo
versions; :func:`check_signer` pins them, so that no byte of a token is free to change.
The reader here is a minimal DER walker (X.690 §8.1, §10.1) over bytes the token's parser
has already accepted as DER.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

__all__ = ["check_signer"]

_SHA256 = "2.16.840.1.101.3.4.2.1"
_SHA384 = "2.16.840.1.101.3.4.2.2"
_SHA512 = "2.16.840.1.101.3.4.2.3"
#: CMS signature algorithms (RFC 5754 §3) a TSA may sign with, by key type, with the
#: digest each implies (None: the SignerInfo's digestAlgorithm alone decides, RFC 3370
#: §3.2).
_RSA_SIGNATURES: Mapping[str, str | None] = {
    "1.2.840.113549.1.1.1": None,
    "1.2.840.113549.1.1.11": _SHA256,
    "1.2.840.113549.1.1.12": _SHA384,
    "1.2.840.113549.1.1.13": _SHA512,
}
_EC_SIGNATURES: Mapping[str, str | None] = {
    "1.2.840.10045.4.3.2": _SHA256,
    "1.2.840.10045.4.3.3": _SHA384,
    "1.2.840.10045.4.3.4": _SHA512,
}


def _tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """One DER element at ``pos``: (tag, content start, content end). X.690 §8.1, §10.1."""
    if pos + 2 > end:
        raise ValueError("truncated DER element")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if not 1 <= count <= 4 or pos + count > end or data[pos] == 0:
            raise ValueError("bad DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        if length < 0x80:
            raise ValueError("non-minimal DER length")
        pos += count
    if pos + length > end:
        raise ValueError("DER element overruns its parent")
    return tag, pos, pos + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    while start < end:
        element = _tlv(data, start, end)
        out.append(element)
        start = element[2]
    return out


def _oid(content: bytes) -> str:
    """Dotted text of a DER OBJECT IDENTIFIER's contents (X.690 §8.19)."""
    arcs, value = [], 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs or content[-1] & 0x80:
        raise ValueError("truncated OID")
    first = arcs[0]
    head = [first // 40, first % 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


@dataclass(frozen=True)
class _SignerFields:
    signed_data_version: int
    signer_version: int
    digest: str
    signature: str


def _signer_fields(tsr: bytes) -> _SignerFields:
    """The SignedData and SignerInfo fields of a TimeStampResp (RFC 3161 §2.4.2, RFC 5652
    §5) that no signature covers and that rfc3161-client does not check."""
    _, start, end = _tlv(tsr, 0, len(tsr))
    _status, token = _children(tsr, start, end)[:2]
    content = _children(tsr, token[1], token[2])[1]  # [0] EXPLICIT content
    signed_data = _children(tsr, content[1], content[2])[0]
    fields = _children(tsr, signed_data[1], signed_data[2])
    infos = [f for f in fields[3:] if f[0] == 0x31]
    if len(infos) != 1 or len(_children(tsr, infos[0][1], infos[0][2])) != 1:
        raise ValueError("expected exactly one SignerInfo")
    info = _children(tsr, infos[0][1], infos[0][2])[0]
    version, _sid, digest, *rest = _children(tsr, info[1], info[2])
    signature = rest[1] if rest and rest[0][0] == 0xA0 else rest[0]

    def integer(element: tuple[int, int, int]) -> int:
        return int.from_bytes(tsr[element[1] : element[2]], "big", signed=True)

    def algorithm(element: tuple[int, int, int]) -> str:
        oid = _children(tsr, element[1], element[2])[0]
        return _oid(tsr[oid[1] : oid[2]])

    return _SignerFields(
        signed_data_version=integer(fields[0]),
        signer_version=integer(version),
        digest=algorithm(digest),
        signature=algorithm(signature),
    )


def check_signer(tsr: bytes, signer: x509.Certificate) -> None:
    """RFC 5652 §5.1 and §5.3: SignedData version 3 (an id-ct-TSTInfo content), SignerInfo
    version 1 (issuerAndSerialNumber), and a signature algorithm of the signer's key type
    that agrees with the digest algorithm.

    Raises:
        ValueError: any of them does not hold.
    """
    try:
        fields = _signer_fields(tsr)
    except IndexError as e:  # an element missing where RFC 5652 requires one
        raise ValueError("malformed SignedData") from e
    if (fields.signed_data_version, fields.signer_version) != (3, 1):
        raise ValueError("unexpected SignedData or SignerInfo version")
    key = signer.public_key()
    known = _RSA_SIGNATURES if isinstance(key, rsa.RSAPublicKey) else {}
    if isinstance(key, ec.EllipticCurvePublicKey):
        known = _EC_SIGNATURES
    if fields.signature not in known:
        raise ValueError(f"signature algorithm {fields.signature} does not fit the TSA's key")
    implied = known[fields.signature]
    if implied is not None and implied != fields.digest:
        raise ValueError(f"signature algorithm {fields.signature} with digest {fields.digest}")
