"""Offline verification of an evidence bundle (a folder or its ``.zip``).

Needs only the bundle and, ideally, the ledger's vkey from a trusted source; imports the
ledger's pure modules and the anchors (which know only checkpoints), never the store or
the database. The checks, in order:

1. ``manifest``: ``manifest.json`` parses, is canonical, and is a known format;
2. ``files``: every listed file is a regular file inside the bundle (no symlink) with its
   size and SHA-256;
3. ``unlisted``: no file is present that neither manifest lists, and (a folder) no
   symlink, non-regular entry or empty folder;
4. ``key`` (only without a vkey): fails unless the bundle's own key is trusted on request;
5. ``tags``: every tag file that follows from the manifest and the key (BagIt files, key
   files, ledger vkey, README) is rebuilt and compared byte for byte, and the tag manifest
   lists the tag files' hashes;
6. ``signature``: ``manifest.json.sig`` is the Ed25519 signature of the manifest's bytes by
   the ledger's key;
7. ``checkpoint``: the receipt's checkpoint is proven by its anchor (kind ``ledger`` from
   :data:`copyseal.anchors.ANCHORS`): its note is signed by that key, for that log;
8. ``inclusion``: the RFC 9162 inclusion proof leads from SHA-256(0x00 ‖ manifest) to the
   signed root;
9. ``consistency`` (optional): a newer signed checkpoint extends the receipt's one.

:func:`copyseal.bundle.anchored.with_anchor_proof` then adds an anchor proof file's checks
(``anchor-consistency``, ``anchor:KIND:NAME``, ``anchor-witnesses``).

A zip is never extracted: its entries are read in place, and a zip that could show one
reader other content than another (duplicate names, symlinks, hidden local entries) or
expand without bound is refused as a whole first (:mod:`copyseal.bundle._source`).
"""

from __future__ import annotations

import base64
import binascii
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from copyseal.anchors import (
    RECEIPT_KIND,
    Anchor,
    AnchorContext,
    anchor_for,
    verify_stated,
)
from copyseal.bundle import _bagit
from copyseal.bundle._source import FolderSource, Source, ZipLimits, open_zip
from copyseal.bundle._tags import (
    MANIFEST,
    RECEIPT,
    SIGNATURE,
    TAG_FILES,
    VKEY,
    derived_tags,
    tag_manifest_of,
)
from copyseal.bundle.manifest import Manifest, parse_manifest
from copyseal.errors import VerificationError
from copyseal.ledger.checkpoint import Checkpoint
from copyseal.ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from copyseal.ledger.note import parse_vkey
from copyseal.ledger.proof import parse_receipt

__all__ = ["BundleVerification", "Check", "ZipLimits", "verify_bundle"]


@dataclass(frozen=True, kw_only=True)
class Check:
    """One verification step: its name, whether it passed, and what it found."""

    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True, kw_only=True)
class BundleVerification:
    """The outcome: ``ok`` only when every check passed."""

    path: str
    checks: tuple[Check, ...]
    manifest: Manifest | None = None
    checkpoint: Checkpoint | None = None
    #: "given" when a vkey was supplied, "bundle" when the bundle's own was used.
    key_source: str = "bundle"
    ledger_index: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: The log's vkey the checks used (given, or the bundle's own); None if malformed.
    vkey: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def to_json(self) -> dict[str, Any]:
        """The public ``copyseal verify BUNDLE --json`` document."""
        m = self.manifest
        return {
            "ok": self.ok,
            "path": self.path,
            "bundle_id": m.bundle_id if m else None,
            "url": m.url if m else None,
            "captured_at": m.to_json()["captured_at"] if m else None,
            "key_source": self.key_source,
            "ledger": {
                "origin": self.checkpoint.origin,
                "index": self.ledger_index,
                "checkpoint_size": self.checkpoint.size,
                "root": base64.b64encode(self.checkpoint.root).decode("ascii"),
            }
            if self.checkpoint
            else None,
            "checks": [c.to_json() for c in self.checks],
            **self.extra,
        }


def _read_text(source: Source, name: str) -> str:
    try:
        return source.read(name).decode("utf-8")
    except (VerificationError, UnicodeDecodeError) as e:
        raise VerificationError(f"{name}: missing or unreadable") from e


def _check_files(source: Source, manifest: Manifest) -> Check:
    problems = []
    for entry in manifest.files:
        try:
            sha, size = source.digest(entry.path)
        except VerificationError as e:
            problems.append(str(e))
            continue
        if size != entry.size:
            problems.append(f"{entry.path}: size {size}, manifest says {entry.size}")
        elif sha != entry.sha256:
            problems.append(f"{entry.path}: SHA-256 differs from the manifest")
    if problems:
        return Check(name="files", ok=False, detail="; ".join(problems))
    return Check(name="files", ok=True, detail=f"{len(manifest.files)} files match their hashes")


def _check_unlisted(source: Source, manifest: Manifest) -> Check:
    allowed = {f.path for f in manifest.files} | set(TAG_FILES) | {_bagit.TAGMANIFEST}
    extra = sorted(source.files() - allowed)
    problems = (["files not in any manifest: " + ", ".join(extra)] if extra else []) + sorted(
        source.strays()
    )
    if problems:
        return Check(name="unlisted", ok=False, detail="; ".join(problems))
    return Check(name="unlisted", ok=True, detail="no unlisted files")


def _check_tags(source: Source, manifest: Manifest, *, vkey: str, public_key: bytes) -> Check:
    """Every tag file but the signed and proven ones is rebuilt and compared byte for byte."""
    problems = []
    for name, expected in derived_tags(manifest, vkey=vkey, public_key=public_key).items():
        try:
            if source.read(name) != expected:
                problems.append(f"{name} differs from what the manifest and key imply")
        except VerificationError:
            problems.append(f"{name} differs from what the manifest and key imply (missing)")
    try:
        if source.read(_bagit.TAGMANIFEST) != tag_manifest_of(lambda n: source.digest(n)[0]):
            problems.append(f"{_bagit.TAGMANIFEST} does not list the tag files' hashes")
    except VerificationError:
        problems.append(f"{_bagit.TAGMANIFEST} or a tag file is missing or unreadable")
    if problems:
        return Check(name="tags", ok=False, detail="; ".join(problems))
    return Check(
        name="tags",
        ok=True,
        detail=f"{len(TAG_FILES) + 1} tag files as expected (BagIt, keys, README)",
    )


def _guard(name: str, step: Callable[[], str]) -> Check:
    try:
        return Check(name=name, ok=True, detail=step())
    except VerificationError as e:
        return Check(name=name, ok=False, detail=str(e))


def _verify_source(
    source: Source,
    *,
    vkey: str | None,
    newer: tuple[str, Sequence[bytes]] | None,
    shown: str,
    trust_bundle_key: bool,
) -> BundleVerification:
    checks: list[Check] = []
    manifest: Manifest | None = None
    manifest_bytes = b""
    try:
        manifest_bytes = source.read(MANIFEST)
    except VerificationError:
        checks.append(Check(name="manifest", ok=False, detail=f"{MANIFEST}: missing or unreadable"))
    else:
        try:
            manifest = parse_manifest(manifest_bytes)
            checks.append(Check(name="manifest", ok=True, detail=f"bundle {manifest.bundle_id}"))
        except VerificationError as e:
            checks.append(Check(name="manifest", ok=False, detail=str(e)))
    if manifest is not None:
        checks.append(_check_files(source, manifest))
        checks.append(_check_unlisted(source, manifest))

    key_source = "given" if vkey else "bundle"
    if not vkey:  # an empty key (an empty --vkey file) is no key: never a silent pass
        # The bundle's own key proves only that the bundle is consistent with itself: anyone
        # can make a self-consistent bundle with a key of their own.
        checks.append(
            Check(
                name="key",
                ok=trust_bundle_key,
                detail="checked with the key inside the bundle"
                + (" (trusted on request)" if trust_bundle_key else "; give the ledger's --vkey"),
            )
        )
    try:
        verifier = parse_vkey(vkey if vkey else _read_text(source, VKEY).strip())
    except VerificationError as e:
        checks.append(Check(name="signature", ok=False, detail=f"verifier key: {e}"))
        return BundleVerification(
            path=shown, checks=tuple(checks), manifest=manifest, key_source=key_source
        )
    if manifest is not None:
        checks.append(
            _check_tags(source, manifest, vkey=verifier.vkey, public_key=verifier.public_key)
        )

    def signature() -> str:
        text = _read_text(source, SIGNATURE).strip()
        try:
            sig = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as e:
            raise VerificationError(f"{SIGNATURE}: not base64") from e
        try:
            VerifyKey(verifier.public_key).verify(manifest_bytes, sig)
        except (BadSignatureError, ValueError) as e:
            raise VerificationError(
                f"{SIGNATURE}: not a valid signature of {MANIFEST} by {verifier.name}"
            ) from e
        return f"Ed25519 signature by {verifier.name} ({key_source} key)"

    checks.append(_guard("signature", signature))
    anchor: Anchor = anchor_for(RECEIPT_KIND, AnchorContext(vkey=verifier.vkey))
    checkpoint: Checkpoint | None = None
    index: int | None = None
    try:
        try:
            receipt_bytes = source.read(RECEIPT)
        except VerificationError as e:
            raise OSError("not a regular file") from e
        receipt = parse_receipt(receipt_bytes)
        index = receipt.index
        # The receipt's checkpoint is what its note states; the anchor proves it or not.
        checkpoint, proven = verify_stated(anchor, receipt.checkpoint_note)
        checks.append(Check(name="checkpoint", ok=True, detail=proven.detail))
    except OSError:
        checks.append(
            Check(name="checkpoint", ok=False, detail=f"{RECEIPT}: missing or unreadable")
        )
    except VerificationError as e:
        checks.append(Check(name="checkpoint", ok=False, detail=f"{RECEIPT}: {e}"))
    if checkpoint is not None and index is not None:
        cp, idx = checkpoint, index

        def inclusion() -> str:
            verify_inclusion(
                leaf_hash=leaf_hash(manifest_bytes),
                index=idx,
                size=cp.size,
                proof=receipt.proof,
                root=cp.root,
            )
            return f"{MANIFEST} is entry {idx} of {cp.size}"

        checks.append(_guard("inclusion", inclusion))
        if newer is not None:
            note, proof = newer

            def consistency() -> str:
                new, _ = verify_stated(anchor, note)
                verify_consistency(
                    old_size=cp.size,
                    new_size=new.size,
                    proof=proof,
                    old_root=cp.root,
                    new_root=new.root,
                )
                return f"checkpoint {new.size} extends {cp.size}"

            checks.append(_guard("consistency", consistency))
    return BundleVerification(
        path=shown,
        checks=tuple(checks),
        manifest=manifest,
        checkpoint=checkpoint,
        key_source=key_source,
        ledger_index=index,
        vkey=verifier.vkey,
    )


def verify_bundle(
    path: Path,
    *,
    vkey: str | None = None,
    newer: tuple[str, Sequence[bytes]] | None = None,
    trust_bundle_key: bool = False,
    limits: ZipLimits | None = None,
) -> BundleVerification:
    """Verify a bundle folder or ``.zip`` offline (a zip is read in place, never extracted).

    Args:
        path: The bundle folder, or a zip made by ``export_zip``.
        vkey: The ledger's verifier key (``name+id+key``) from a trusted source. Without
            it the bundle's own ``ledger.vkey`` is used, ``key_source`` says so, and the
            ``key`` check fails unless ``trust_bundle_key`` (a self-made bundle with a key
            of its own would otherwise pass).
        newer: Optionally a newer signed checkpoint note and the consistency proof from the
            receipt's tree size to it.
        limits: Caps on a zip (default :class:`ZipLimits`'s).

    Returns:
        Every check with its outcome; the bundle is valid iff ``.ok``.

    Raises:
        VerificationError: ``path`` is neither a folder nor a readable, safe zip (the
            message names the entry and the rule it breaks).
    """
    if path.is_dir():
        return _verify_source(
            FolderSource(root=path),
            vkey=vkey,
            newer=newer,
            shown=str(path),
            trust_bundle_key=trust_bundle_key,
        )
    if path.is_file() and zipfile.is_zipfile(path):
        with open_zip(path, limits=limits or ZipLimits()) as source:
            return _verify_source(
                source, vkey=vkey, newer=newer, shown=str(path), trust_bundle_key=trust_bundle_key
            )
    raise VerificationError(f"{path}: not a bundle folder or zip")
