"""Rights metadata: originals written with exiv2 (pyexiv2), copies kept, altered, stripped."""

from __future__ import annotations

import io

import numpy as np
import pyexiv2
import pytest
from PIL import Image

from copyseal.match.rights import MAX_FIELD_CHARS, RightsMetadata, compare, read_rights

EXIF = {"Exif.Image.Artist": "Ana Núñez", "Exif.Image.Copyright": "© 2026 Ana Núñez"}
IPTC = {
    "Iptc.Application2.Byline": ["Ana Núñez"],
    "Iptc.Application2.Credit": "Núñez Studio",
    "Iptc.Application2.Copyright": "© 2026 Ana Núñez, all rights reserved",
}
XMP = {
    "Xmp.dc.creator": ["Ana Núñez"],
    "Xmp.dc.rights": {'lang="x-default"': "© 2026 Ana Núñez"},
    "Xmp.xmpRights.WebStatement": "https://nunez.example/licence",
    "Xmp.plus.Licensor[1]/plus:LicensorName": "Núñez Studio",
}


def _jpeg(pixels: np.ndarray, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=90, **kwargs)  # type: ignore[arg-type]
    return buf.getvalue()


def _with_metadata(data: bytes, exif: dict, iptc: dict, xmp: dict) -> bytes:
    image = pyexiv2.ImageData(data)
    try:
        if exif:
            image.modify_exif(exif)
        if iptc:
            image.modify_iptc(iptc)
        if any(k.startswith("Xmp.plus.Licensor[") for k in xmp):
            image.modify_xmp({"Xmp.plus.Licensor": "type=Seq"})  # the array, then its items
        if xmp:
            image.modify_xmp(xmp)
        return bytes(image.get_bytes())
    finally:
        image.close()


@pytest.fixture
def original(photos: dict[str, np.ndarray]) -> bytes:
    return _with_metadata(_jpeg(photos["astronaut"]), EXIF, IPTC, XMP)


def test_reads_every_rights_field(original: bytes) -> None:
    rights = read_rights(original)
    assert rights.fields == {
        "exif:Artist": "Ana Núñez",
        "exif:Copyright": "© 2026 Ana Núñez",
        "iptc:By-line": "Ana Núñez",
        "iptc:Credit": "Núñez Studio",
        "iptc:CopyrightNotice": "© 2026 Ana Núñez, all rights reserved",
        "xmp:dc:creator": "Ana Núñez",
        "xmp:dc:rights": "© 2026 Ana Núñez",
        "xmp:xmpRights:WebStatement": "https://nunez.example/licence",
        "xmp:plus:Licensor": "Núñez Studio",
    }
    assert rights.c2pa == "absent" and rights.warnings == ()
    assert RightsMetadata.from_json(rights.to_json()) == rights


def test_kept_copy(original: bytes) -> None:
    report = compare(read_rights(original), read_rights(original))
    assert report["c2pa"] == "absent"
    assert len(report["fields"]) == 9
    assert {f["status"] for f in report["fields"].values()} == {"kept"}


def test_altered_copy(original: bytes) -> None:
    copy = _with_metadata(
        original,
        {"Exif.Image.Artist": "Somebody Else"},
        {},
        {"Xmp.dc.rights": {'lang="x-default"': "CC0"}},
    )
    fields = compare(read_rights(original), read_rights(copy))["fields"]
    assert fields["exif:Artist"] == {
        "status": "altered",
        "original": "Ana Núñez",
        "found": "Somebody Else",
    }
    assert fields["xmp:dc:rights"]["status"] == "altered"
    assert fields["xmp:dc:rights"]["found"] == "CC0"
    assert fields["iptc:Credit"]["status"] == "kept"


def test_stripped_copy_reencoded_with_pillow(original: bytes) -> None:
    stripped = _jpeg(np.asarray(Image.open(io.BytesIO(original)).convert("RGB")))
    fields = compare(read_rights(original), read_rights(stripped))["fields"]
    assert len(fields) == 9
    assert all(f["status"] == "removed" and f["found"] is None for f in fields.values())


def test_partly_stripped_copy(original: bytes) -> None:
    image = pyexiv2.ImageData(original)
    image.clear_xmp()
    image.clear_iptc()
    copy = bytes(image.get_bytes())
    image.close()
    fields = compare(read_rights(original), read_rights(copy))["fields"]
    assert fields["exif:Artist"]["status"] == "kept"
    assert fields["iptc:Credit"]["status"] == "removed"
    assert fields["xmp:dc:creator"]["status"] == "removed"


def test_fields_the_original_lacks_are_not_reported(photos: dict[str, np.ndarray]) -> None:
    bare = _jpeg(photos["coffee"])
    added = _with_metadata(bare, {"Exif.Image.Artist": "Thief"}, {}, {})
    assert compare(read_rights(bare), read_rights(added))["fields"] == {}


def test_malformed_xmp_is_a_warning_and_the_rest_is_read(original: bytes) -> None:
    bad = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description dc:creator="x'
    source = Image.open(io.BytesIO(original))
    buf = io.BytesIO()
    source.save(buf, "JPEG", xmp=bad, exif=source.getexif())
    rights = read_rights(buf.getvalue())
    assert rights.readable
    assert any("XMP Toolkit error" in w for w in rights.warnings)
    # EXIF survived (Pillow writes its ASCII tags as ASCII, so "ñ" became "?").
    assert rights.fields["exif:Artist"].startswith("Ana N")
    assert not any(name.startswith("xmp:") for name in rights.fields)
    report = compare(read_rights(original), rights)
    assert report["fields"]["exif:Artist"]["status"] == "altered"
    assert report["warnings"] == list(rights.warnings)


def test_huge_xmp_value_is_kept_as_a_digest(photos: dict[str, np.ndarray]) -> None:
    name = "A" * (MAX_FIELD_CHARS * 2)
    data = _with_metadata(_jpeg(photos["chelsea"]), {}, {}, {"Xmp.dc.creator": [name]})
    rights = read_rights(data)
    assert rights.fields["xmp:dc:creator"].startswith("sha256:")
    assert any("over" in w for w in rights.warnings)
    assert compare(rights, read_rights(data))["fields"]["xmp:dc:creator"]["status"] == "kept"


@pytest.mark.parametrize("data", [b"", b"not an image", b"\xff\xd8\xff" + b"\x00" * 50])
def test_garbage_never_raises(data: bytes) -> None:
    rights = read_rights(data)
    assert rights.fields == {}


def test_c2pa_label_without_a_valid_manifest_is_invalid(photos: dict[str, np.ndarray]) -> None:
    # An APP11 segment that claims to be a C2PA JUMBF box but holds garbage.
    jpeg = _jpeg(photos["rocket"])
    payload = b"JP\x00\x00\x00\x00\x00\x01" + b"\x00\x00\x00\x20jumb" + b"c2pa" * 6
    segment = b"\xff\xeb" + (len(payload) + 2).to_bytes(2, "big") + payload
    rights = read_rights(jpeg[:2] + segment + jpeg[2:])
    assert rights.c2pa == "invalid"
    assert any("C2PA manifest does not validate" in w for w in rights.warnings)
    original = RightsMetadata(fields={}, c2pa="present")
    assert compare(original, read_rights(jpeg))["c2pa"] == "removed"
    assert compare(original, original)["c2pa"] == "present"


def test_digest_ignores_warnings_and_order() -> None:
    a = RightsMetadata(fields={"exif:Artist": "A", "iptc:Credit": "B"}, warnings=("w",))
    b = RightsMetadata(fields={"iptc:Credit": "B", "exif:Artist": "A"})
    assert a.digest() == b.digest()
    assert a.digest() != RightsMetadata(fields={"exif:Artist": "A"}).digest()


def _c2pa_signed(jpeg: bytes) -> bytes:
    """``jpeg`` with a C2PA manifest signed by the C2PA SDK (ES256; a throwaway CA and
    signer made here: C2PA rejects self-signed signing certificates)."""
    import datetime
    import json

    import c2pa
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def usage(*, ca: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=ca,
            crl_sign=ca,
            encipher_only=False,
            decipher_only=False,
        )

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def cert(subject: str, public: ec.EllipticCurvePublicKey, *, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name("Test CA"))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(usage(ca=ca), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        )
        if not ca:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
            ).add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        return builder.sign(ca_key, hashes.SHA256())

    pem = serialization.Encoding.PEM
    chain = cert("Test signer", key.public_key(), ca=False).public_bytes(pem) + cert(
        "Test CA", ca_key.public_key(), ca=True
    ).public_bytes(pem)
    private = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(alg=b"es256", sign_cert=chain, private_key=private, ta_url=None)
    )
    manifest = {
        "claim_generator_info": [{"name": "copyseal-test", "version": "1"}],
        "title": "work",
        "format": "image/jpeg",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": "http://cv.iptc.org/newscodes/"
                            "digitalsourcetype/digitalCapture",
                        }
                    ]
                },
            }
        ],
    }
    out = io.BytesIO()
    with c2pa.Builder(json.dumps(manifest)) as builder:
        builder.sign(signer, "image/jpeg", io.BytesIO(jpeg), out)
    return out.getvalue()


def test_c2pa_manifest_present_tampered_and_removed(photos: dict[str, np.ndarray]) -> None:
    signed = _c2pa_signed(_jpeg(photos["coffee"]))
    original = read_rights(signed)
    assert original.c2pa == "present" and original.warnings == ()
    assert compare(original, original)["c2pa"] == "present"
    tampered = bytearray(signed)
    tampered[-500] ^= 0xFF  # a byte of the picture the manifest's hash covers
    found = read_rights(bytes(tampered))
    assert found.c2pa == "invalid"
    assert compare(original, found)["c2pa"] == "invalid"
    stripped = _jpeg(np.asarray(Image.open(io.BytesIO(signed)).convert("RGB")))
    assert compare(original, read_rights(stripped))["c2pa"] == "removed"
