"""Writing an evidence bundle: hash, sign, anchor, bag — then rename into place.

Layout of ``evidence/bundles/<bundle_id>/`` (a BagIt bag, RFC 8493)::

    bagit.txt, bag-info.txt          BagIt declaration and metadata
    data/...                         the evidence files (payload), listed in manifest.json
    manifest-sha256.txt              BagIt payload manifest
    manifest.json                    canonical JSON: URL, time, match report, every file's hash
    manifest.json.sig                base64 Ed25519 signature of manifest.json's bytes
    signing.pub, signing.pub.pem     the signing public key (base64 raw; PEM SubjectPublicKeyInfo)
    manifest.json.tlog-proof         c2sp.org/tlog-proof@v1 receipt of the manifest's ledger leaf
    ledger.vkey                      the ledger's note verifier key
    README.txt                       what each file is and how to verify by hand
    tagmanifest-sha256.txt           SHA-256 of every tag file above

The bundle is built in a hidden temporary folder beside its final place and renamed into
place only when complete, so a crash never leaves a half-written bundle; its files are
then made read-only. Nothing rewrites a bundle afterwards.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import shutil
import stat
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nacl.signing import SigningKey

from copyseal import __version__
from copyseal.anchors import RECEIPT_KIND, Anchor, AnchorContext, anchor_for, stated_checkpoint
from copyseal.bundle._bagit import TAGMANIFEST as _TAGMANIFEST
from copyseal.bundle._tags import (
    MANIFEST,
    RECEIPT,
    SIGNATURE,
    TAG_FILES,
    derived_tags,
    public_key_pem,
    tag_manifest,
)
from copyseal.bundle.manifest import FileEntry, Manifest, safe_path
from copyseal.errors import BundleError, CopysealError
from copyseal.files import (
    discard,
    fsync_dir,
    publish_dir,
    publish_stream,
    staging_dir,
    sync_tree,
)
from copyseal.ledger.checkpoint import Checkpoint
from copyseal.ledger.merkle import leaf_hash, verify_inclusion
from copyseal.ledger.note import NoteSigner
from copyseal.ledger.proof import Receipt, parse_receipt
from copyseal.ledger.statements import EVIDENCE_BUNDLE, evidence_bundle

if TYPE_CHECKING:
    from copyseal.ledger.store import Ledger

__all__ = [
    "TAG_FILES",
    "BundleInfo",
    "EvidenceFile",
    "complete_staged",
    "export_zip",
    "public_key_pem",
    "write_bundle",
]

_CHUNK = 1 << 20


@dataclass(frozen=True, kw_only=True)
class EvidenceFile:
    """A file to seal: its bytes (or where they are), its name under ``data/``, its type."""

    name: str
    media_type: str
    source: Path | None = None
    data: bytes | None = None

    def __post_init__(self) -> None:
        if (self.source is None) == (self.data is None):
            raise BundleError(f"evidence file {self.name}: give exactly one of source or data")


@dataclass(frozen=True, kw_only=True)
class BundleInfo:
    """A written bundle: where it is and how it is anchored."""

    bundle_id: str
    path: Path
    manifest_sha256: str
    leaf_hash: str
    ledger_index: int
    checkpoint_size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle_id": self.bundle_id,
            "path": str(self.path),
            "manifest_sha256": self.manifest_sha256,
            "leaf_hash": self.leaf_hash,
            "ledger_index": self.ledger_index,
            "checkpoint_size": self.checkpoint_size,
        }


def _copy_hashed(item: EvidenceFile, dest: Path) -> FileEntry:
    """Copy the file into the bundle, hashing the bytes as they are written."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with dest.open("xb") as out:
        if item.data is not None:
            digest.update(item.data)
            out.write(item.data)
            size = len(item.data)
        else:
            assert item.source is not None
            try:
                with item.source.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
            except OSError as e:
                raise BundleError(f"evidence file {item.source}: cannot read ({e.strerror})") from e
    return FileEntry(
        path=f"data/{item.name}", sha256=digest.hexdigest(), size=size, media_type=item.media_type
    )


def _write(path: Path, data: bytes) -> None:
    """Write one file into the staging folder (:func:`~copyseal.files.publish_dir` syncs
    every file before the folder is renamed into place)."""
    with path.open("xb") as out:
        out.write(data)


def _make_read_only(root: Path) -> None:
    """Files 0444 and folders 0555, deepest first: nothing can be changed, added or removed."""
    read = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        path.chmod(read | (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH if path.is_dir() else 0))
    root.chmod(read | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _receipt_anchor(ledger: Ledger, signing_key: SigningKey) -> Anchor:
    """The anchor whose proof a receipt carries (the ledger's own signed checkpoint), made
    with ``signing_key``, which must be the ledger's key: a bundle's signature and receipt
    are both checked against the one ledger vkey it ships."""
    signer = NoteSigner(name=ledger.origin, signing_key=signing_key)
    if signer.vkey != ledger.vkey():
        raise BundleError(
            f"the signing key is not the key of ledger {ledger.origin}: a bundle it signed"
            " would not verify with the ledger's vkey"
        )
    return anchor_for(RECEIPT_KIND, AnchorContext.for_signer(signer))


def _anchored_receipt(
    ledger: Ledger, anchor: Anchor, index: int, manifest_bytes: bytes
) -> tuple[str, Checkpoint]:
    """The manifest's ``tlog-proof@v1`` receipt: the store's inclusion proof of entry
    ``index`` and the anchor's proof of the checkpoint it leads to, both checked before
    anyone sees them.

    Raises:
        CopysealError: the ledger cannot prove the entry, or a proof does not verify.
    """
    stored = parse_receipt(ledger.receipt(index))
    checkpoint = stated_checkpoint(stored.checkpoint_note)
    proof = anchor.prove(anchor.anchor(checkpoint))
    proven = anchor.verify(proof, checkpoint)
    verify_inclusion(
        leaf_hash=leaf_hash(manifest_bytes),
        index=index,
        size=proven.size,
        proof=stored.proof,
        root=proven.root,
    )
    receipt = Receipt(index=index, proof=stored.proof, checkpoint_note=proof.decode("utf-8"))
    return receipt.format(), checkpoint


def write_bundle(
    *,
    root: Path,
    url: str,
    captured_at: datetime,
    files: Sequence[EvidenceFile],
    match: Mapping[str, Any] | None,
    capture: Mapping[str, Any],
    signing_key: SigningKey,
    ledger: Ledger,
    organization: str | None = None,
) -> BundleInfo:
    """Seal evidence files into a signed bundle anchored in ``ledger``.

    Args:
        root: The folder of bundles (``evidence/bundles``); the bundle is a new folder in it.
        url: The captured page's URL.
        captured_at: When the capture started (UTC).
        files: The evidence files; names must be unique, relative, without ``..``.
        match: The match report (registered work, scores, transform, region), if any.
        capture: A short JSON-safe summary of the capture for the manifest.
        signing_key: The workspace key that signs ``manifest.json``.
        ledger: Where the manifest's bytes are appended as an ``evidence-bundle`` leaf.
        organization: ``Source-Organization`` for ``bag-info.txt``.

    Raises:
        BundleError: an input is invalid or cannot be read, ``signing_key`` is not the
            ledger's key, or anchoring failed; nothing is left behind.
    """
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        raise BundleError("evidence file names must be unique")
    for name in names:
        if not safe_path(f"data/{name}"):
            raise BundleError(
                f"evidence file name {name!r} is not a safe relative path"
                " (letters, digits, '.', '_', '-' and '/' only)"
            )
    captured_at = captured_at.astimezone(UTC)
    bundle_id = captured_at.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(4)
    final = root / bundle_id
    anchor = _receipt_anchor(ledger, signing_key)
    tmp = staging_dir(final)
    index: int | None = None
    try:
        entries = [_copy_hashed(item, tmp / "data" / item.name) for item in files]
        manifest = Manifest(
            bundle_id=bundle_id,
            url=url,
            captured_at=captured_at,
            files=tuple(entries),
            match=match,
            capture=capture,
            organization=" ".join((organization or "copyseal user").split()),
            software=f"copyseal {__version__}",
        )
        manifest_bytes = manifest.to_bytes()
        _write(tmp / MANIFEST, manifest_bytes)
        signature = signing_key.sign(manifest_bytes).signature
        _write(tmp / SIGNATURE, base64.b64encode(signature) + b"\n")
        # Anchor last, once everything above is on disk: a failure (or a power cut) before
        # the append leaves no entry, and an entry never names files that were not synced.
        sync_tree(tmp)
        index = ledger.append([(EVIDENCE_BUNDLE, evidence_bundle(manifest_bytes))])[0]
        receipt, checkpoint = _anchored_receipt(ledger, anchor, index, manifest_bytes)
        _write(tmp / RECEIPT, receipt.encode("utf-8"))
        tags = derived_tags(manifest, vkey=ledger.vkey(), public_key=bytes(signing_key.verify_key))
        for name, data in tags.items():
            _write(tmp / name, data)
        _write(tmp / _TAGMANIFEST, tag_manifest(tmp))
        publish_dir(tmp, final, before_rename=_make_read_only)
    except (CopysealError, OSError) as e:
        reason = str(e) if isinstance(e, CopysealError) else f"{e.__class__.__name__}: {e}"
        if index is None:
            discard(tmp)
            if isinstance(e, BundleError):
                raise
            raise BundleError(f"cannot seal bundle {bundle_id} in {root}: {reason}") from e
        # Anchored: the ledger names this manifest, so its files are evidence; keep them.
        kept = root / f".failed-{bundle_id}"
        with contextlib.suppress(OSError):
            sync_tree(tmp)
            os.rename(tmp, kept)
            fsync_dir(root)
        raise BundleError(
            f"bundle {bundle_id} is anchored as ledger entry {index} but could not be"
            f" completed ({reason}); its files are kept in {kept}"
        ) from e
    return BundleInfo(
        bundle_id=bundle_id,
        path=final,
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
        leaf_hash=leaf_hash(manifest_bytes).hex(),
        ledger_index=index,
        checkpoint_size=checkpoint.size,
    )


def complete_staged(staging: Path, *, signing_key: SigningKey, ledger: Ledger) -> BundleInfo | None:
    """Finish a bundle whose writer stopped after the ledger took its manifest and before
    its folder was renamed into place (a process killed in between, or a ``.failed-``
    folder kept after an error): without this, that ledger entry would have no bundle.

    The files written before the append (the evidence, ``manifest.json`` and its
    signature, all named by the manifest and synced before the append) are kept as they
    are; the receipt, the tag files and the tag manifest are written anew, then the folder
    is published under the manifest's bundle id as :func:`write_bundle` does.

    Args:
        staging: The hidden folder the writer built the bundle in.
        signing_key: The workspace key (the ledger's), which signed the manifest.
        ledger: The ledger that logged the manifest.

    Returns:
        The bundle, or None when the manifest was never logged (then the folder is not
        evidence, and it is left as it is).

    Raises:
        BundleError: the folder's manifest or signature is not the one logged, or the
            bundle cannot be completed (its files are left in place).
    """
    from copyseal.bundle.manifest import parse_manifest

    try:
        manifest_bytes = (staging / MANIFEST).read_bytes()
        signature = base64.b64decode((staging / SIGNATURE).read_bytes(), validate=False)
    except (OSError, ValueError):
        return None  # the signature is written before the append: nothing was logged
    index = ledger.find(leaf_hash(manifest_bytes))
    if index is None:
        return None
    try:
        signing_key.verify_key.verify(manifest_bytes, signature)
    except Exception as e:  # nacl's BadSignatureError, a wrong length
        raise BundleError(f"{staging}: the signature of its logged manifest is not valid") from e
    manifest = parse_manifest(manifest_bytes)
    final = staging.parent / manifest.bundle_id
    anchor = _receipt_anchor(ledger, signing_key)
    receipt, checkpoint = _anchored_receipt(ledger, anchor, index, manifest_bytes)
    try:
        # A kill during publish_dir may have left the files read-only already.
        for here, _dirs, _names in os.walk(staging):
            Path(here).chmod(0o755)
        tags = derived_tags(manifest, vkey=ledger.vkey(), public_key=bytes(signing_key.verify_key))
        for name in (RECEIPT, *tags, _TAGMANIFEST):
            (staging / name).unlink(missing_ok=True)
        _write(staging / RECEIPT, receipt.encode("utf-8"))
        for name, data in tags.items():
            _write(staging / name, data)
        _write(staging / _TAGMANIFEST, tag_manifest(staging))
        publish_dir(staging, final, before_rename=_make_read_only)
    except OSError as e:
        raise BundleError(f"bundle {manifest.bundle_id} in {staging}: cannot complete ({e})") from e
    return BundleInfo(
        bundle_id=manifest.bundle_id,
        path=final,
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
        leaf_hash=leaf_hash(manifest_bytes).hex(),
        ledger_index=index,
        checkpoint_size=checkpoint.size,
    )


def export_zip(bundle: Path, out: Path) -> Path:
    """Write the bundle folder as one ``.zip`` (entries sorted, times fixed; never overwrites)."""
    if not (bundle / MANIFEST).is_file():
        raise BundleError(f"{bundle}: not an evidence bundle (no {MANIFEST})")
    try:
        # Published whole and synced; never over an existing file, even in a race.
        with (
            publish_stream(out) as raw,
            zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as zf,
        ):
            for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
                arcname = f"{bundle.name}/{path.relative_to(bundle).as_posix()}"
                info = zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o444 << 16
                with path.open("rb") as src, zf.open(info, "w") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
    except FileExistsError as e:
        raise BundleError(f"{out}: exists already; refusing to overwrite it") from e
    except OSError as e:
        raise BundleError(f"cannot write {out}: {e.strerror or e}") from e
    return out
