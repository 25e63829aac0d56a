"""The bundle's ``README.txt``: plain words for a court expert, and how to check by hand."""

from __future__ import annotations

from copyseal.bundle.manifest import Manifest

__all__ = ["readme_text"]

_DESCRIPTIONS = {
    "bagit.txt": "BagIt declaration (RFC 8493): this folder is a 'bag'.",
    "bag-info.txt": "BagIt metadata: who made the bag, when, and the payload's total size.",
    "manifest-sha256.txt": "BagIt payload manifest: the SHA-256 of every file under data/.",
    "manifest.json": "The evidence manifest: URL, capture time, the match report and the "
    "SHA-256, size and media type of every file under data/. Its exact bytes are what is "
    "signed and what is recorded in the ledger.",
    "manifest.json.sig": "Ed25519 signature (RFC 8032) of the exact bytes of manifest.json, "
    "in base64.",
    "signing.pub": "The Ed25519 public key that made the signature (32 bytes, base64).",
    "signing.pub.pem": "The same public key as a PEM SubjectPublicKeyInfo (RFC 8410), for openssl.",
    "manifest.json.tlog-proof": "Ledger receipt (c2sp.org/tlog-proof@v1): proves that "
    "manifest.json is an entry of the append-only ledger under a signed checkpoint.",
    "ledger.vkey": "The ledger's verifier key (C2SP signed-note vkey format).",
    "tagmanifest-sha256.txt": "BagIt tag manifest: the SHA-256 of every file outside data/.",
}


def readme_text(*, manifest: Manifest, origin: str) -> str:
    """The README for this bundle."""
    files = "\n".join(
        f"  {f.path}\n      {f.media_type}, {f.size} bytes, SHA-256 {f.sha256}"
        for f in sorted(manifest.files, key=lambda f: f.path)
    )
    tags = "\n".join(f"  {name}\n      {text}" for name, text in _DESCRIPTIONS.items())
    return f"""\
COPYSEAL EVIDENCE BUNDLE {manifest.bundle_id}

What this is
------------
A record of what the web page
  {manifest.url}
showed when copyseal captured it at {manifest.to_json()["captured_at"]} (UTC), made because an
image on it matched a registered work. The files were hashed as they were written, the
list of hashes (manifest.json) was signed, and manifest.json was recorded in the
append-only ledger "{origin}", so any later change to any file can be detected.

Evidence files (under data/)
----------------------------
{files}

Other files
-----------
{tags}

How to verify with copyseal
---------------------------
  copyseal verify THIS_FOLDER --vkey LEDGER_VKEY_FROM_A_TRUSTED_SOURCE --json

Use a verifier key obtained independently of this bundle (for example published by the
rights holder); ledger.vkey inside the bundle only shows which key was used.

How to verify by hand, with standard tools
------------------------------------------
1. Files: in this folder run
     sha256sum -c manifest-sha256.txt
     sha256sum -c tagmanifest-sha256.txt
   and compare each "sha256" and "size" in manifest.json with the files under data/.
   No file may be present that neither manifest lists.
2. Signature: decode manifest.json.sig from base64 and check it as an Ed25519 signature of
   the exact bytes of manifest.json with the public key, e.g. with OpenSSL 3:
     base64 -d manifest.json.sig > sig.bin
     openssl pkeyutl -verify -pubin -inkey signing.pub.pem -rawin -in manifest.json -sigfile sig.bin
3. Ledger inclusion (RFC 9162, section 2.1.3.2): the leaf hash is
     SHA-256( 0x00 || bytes of manifest.json )
   manifest.json.tlog-proof gives the leaf's index, the proof hashes (base64, one per
   line) and, after a blank line, the signed checkpoint: the ledger's name, its size (number
   of entries) and its root hash (base64). Combine the leaf hash with the proof hashes
   with SHA-256( 0x01 || left || right ) as RFC 9162 describes; the result must equal
   the checkpoint's root hash.
4. Checkpoint signature (c2sp.org/signed-note): the checkpoint text (the lines before the
   blank line) is signed with Ed25519; the signature line is an em dash (U+2014), a space,
   the key name, a space and base64 data whose
   first 4 decoded bytes are the key ID and the remaining 64 the signature. ledger.vkey is
   <name>+<key ID in hex>+<base64 of 0x01 followed by the 32-byte public key>.
5. Optionally, ask the ledger's operator for a newer checkpoint and a consistency proof
   (RFC 9162, section 2.1.4.2) to confirm the entry was never removed or rewritten.
"""
