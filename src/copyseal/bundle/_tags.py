"""The bundle's tag files that follow from the manifest and the keys, byte for byte.

Only three files outside ``data/`` carry information of their own, and each is checked
cryptographically: ``manifest.json`` (signed), ``manifest.json.sig`` and
``manifest.json.tlog-proof``. Every other tag file — the BagIt declaration, payload
manifest and bag-info, the public key files, the ledger vkey and the README — is a
function of the manifest and the keys, so the writer and the verifier both build them
here and the verifier compares them byte for byte: a changed README, bag-info or key file
fails verification even though no signature covers it directly.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path

from copyseal.bundle import _bagit
from copyseal.bundle._readme import readme_text
from copyseal.bundle.manifest import Manifest

__all__ = [
    "MANIFEST",
    "PUBKEY",
    "PUBKEY_PEM",
    "README",
    "RECEIPT",
    "SIGNATURE",
    "TAG_FILES",
    "VKEY",
    "derived_tags",
    "public_key_pem",
    "tag_manifest",
    "tag_manifest_of",
]

MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
RECEIPT = "manifest.json.tlog-proof"
VKEY = "ledger.vkey"
PUBKEY = "signing.pub"
PUBKEY_PEM = "signing.pub.pem"
README = "README.txt"
#: Every file of a bundle outside ``data/`` (the tag files), in the tag manifest's order.
TAG_FILES = (
    "bagit.txt",
    "bag-info.txt",
    _bagit.PAYLOAD_MANIFEST,
    MANIFEST,
    SIGNATURE,
    PUBKEY,
    PUBKEY_PEM,
    RECEIPT,
    VKEY,
    README,
)
# DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4), followed by the 32-byte key.
_ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def public_key_pem(raw: bytes) -> str:
    """An Ed25519 public key as a PEM SubjectPublicKeyInfo (RFC 8410), for openssl."""
    der = base64.b64encode(_ED25519_SPKI_PREFIX + raw).decode("ascii")
    return f"-----BEGIN PUBLIC KEY-----\n{der}\n-----END PUBLIC KEY-----\n"


def derived_tags(manifest: Manifest, *, vkey: str, public_key: bytes) -> dict[str, bytes]:
    """The tag files that follow from the manifest, the ledger's vkey and the signing key."""
    origin = vkey.split("+", 1)[0]
    info = {
        "Source-Organization": manifest.organization,
        "Bagging-Date": manifest.captured_at.date().isoformat(),
        "External-Identifier": manifest.bundle_id,
        "External-Description": f"copyseal evidence bundle of {manifest.url}",
        "Bag-Software-Agent": manifest.software,
    }
    octets = sum(f.size for f in manifest.files)
    return {
        "bagit.txt": _bagit.BAGIT_TXT.encode("utf-8"),
        "bag-info.txt": _bagit.bag_info(info, octets=octets, count=len(manifest.files)).encode(),
        _bagit.PAYLOAD_MANIFEST: _bagit.manifest_lines(
            (f.path, f.sha256) for f in manifest.files
        ).encode("utf-8"),
        PUBKEY: (base64.b64encode(public_key).decode("ascii") + "\n").encode("ascii"),
        PUBKEY_PEM: public_key_pem(public_key).encode("ascii"),
        VKEY: (vkey + "\n").encode("ascii"),
        README: readme_text(manifest=manifest, origin=origin).encode("utf-8"),
    }


def tag_manifest(root: Path) -> bytes:
    """``tagmanifest-sha256.txt`` for the tag files in ``root`` (RFC 8493 §2.2.1)."""
    return tag_manifest_of(lambda name: hashlib.sha256((root / name).read_bytes()).hexdigest())


def tag_manifest_of(sha256: Callable[[str], str]) -> bytes:
    """``tagmanifest-sha256.txt`` given each tag file's SHA-256 (hex) by name."""
    digests = [(name, sha256(name)) for name in TAG_FILES]
    return _bagit.manifest_lines(digests).encode("utf-8")
