"""Offline verification of an evidence bundle (a folder or its ``.zip``).

Needs only the bundle and, ideally, the ledger's vkey from a trusted source; imports the
ledger's pure modules, never the store or the database. The checks, in order:

1. ``manifest``: ``manifest.json`` parses, is canonical, and is a known format;
2. ``files``: every listed file exists with its size and SHA-256;
3. ``unlisted``: no file is present that neither manifest lists;
4. ``bagit``: the BagIt payload and tag manifests agree with the files;
5. ``signature``: ``manifest.json.sig`` is the Ed25519 signature of the manifest's bytes by
   the ledger's key (the vkey given, else the bundle's own, which is reported as such);
6. ``checkpoint``: the receipt's checkpoint note is signed by that key, for that log;
7. ``inclusion``: the RFC 9162 inclusion proof leads from SHA-256(0x00 ‖ manifest) to the
   signed root;
8. ``consistency`` (optional): a newer signed checkpoint extends the receipt's one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from copyseal.bundle import _bagit
from copyseal.bundle.manifest import Manifest, parse_manifest
from copyseal.bundle.writer import MANIFEST, PUBKEY, RECEIPT, SIGNATURE, TAG_FILES, VKEY
from copyseal.errors import VerificationError
from copyseal.ledger._merkle import leaf_hash, verify_consistency, verify_inclusion
from copyseal.ledger.checkpoint import Checkpoint, open_checkpoint
from copyseal.ledger.note import parse_vkey
from copyseal.ledger.proof import parse_receipt

__all__ = ["BundleVerification", "Check", "verify_bundle"]

_MAX_ZIP_BYTES = 4 << 30
_CHUNK = 1 << 20


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
        }


def _sha256_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _read_text(root: Path, name: str) -> str:
    try:
        return (root / name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise VerificationError(f"{name}: missing or unreadable") from e


def _check_files(root: Path, manifest: Manifest) -> Check:
    problems = []
    for entry in manifest.files:
        path = root / entry.path
        if not path.is_file():
            problems.append(f"{entry.path}: missing")
            continue
        sha, size = _sha256_file(path)
        if size != entry.size:
            problems.append(f"{entry.path}: size {size}, manifest says {entry.size}")
        elif sha != entry.sha256:
            problems.append(f"{entry.path}: SHA-256 differs from the manifest")
    if problems:
        return Check(name="files", ok=False, detail="; ".join(problems))
    return Check(name="files", ok=True, detail=f"{len(manifest.files)} files match their hashes")


def _check_unlisted(root: Path, manifest: Manifest) -> Check:
    allowed = {f.path for f in manifest.files} | set(TAG_FILES) | {_bagit.TAGMANIFEST}
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()}
    extra = sorted(present - allowed)
    if extra:
        return Check(
            name="unlisted", ok=False, detail="files not in any manifest: " + ", ".join(extra)
        )
    return Check(name="unlisted", ok=True, detail="no unlisted files")


def _check_bagit(root: Path) -> Check:
    problems = []
    for manifest_name in (_bagit.PAYLOAD_MANIFEST, _bagit.TAGMANIFEST):
        try:
            lines = _read_text(root, manifest_name).splitlines()
        except VerificationError as e:
            return Check(name="bagit", ok=False, detail=str(e))
        for line in lines:
            sha, _, rel = line.partition("  ")
            path = root / rel
            if not rel or ".." in PurePosixPath(rel).parts or not path.is_file():
                problems.append(f"{manifest_name}: {rel or line!r} missing")
            elif _sha256_file(path)[0] != sha:
                problems.append(f"{manifest_name}: {rel} SHA-256 differs")
    if problems:
        return Check(name="bagit", ok=False, detail="; ".join(problems))
    return Check(name="bagit", ok=True, detail="payload and tag manifests agree")


def _guard(name: str, step: Callable[[], str]) -> Check:
    try:
        return Check(name=name, ok=True, detail=step())
    except VerificationError as e:
        return Check(name=name, ok=False, detail=str(e))


def _verify_folder(
    root: Path, *, vkey: str | None, newer: tuple[str, Sequence[bytes]] | None, shown: str
) -> BundleVerification:
    checks: list[Check] = []
    try:
        manifest_bytes = (root / MANIFEST).read_bytes()
        parsed = parse_manifest(manifest_bytes)
        manifest: Manifest | None = parsed
        checks.append(Check(name="manifest", ok=True, detail=f"bundle {parsed.bundle_id}"))
    except OSError:
        manifest_bytes, manifest = b"", None
        checks.append(Check(name="manifest", ok=False, detail=f"{MANIFEST}: missing or unreadable"))
    except VerificationError as e:
        manifest_bytes, manifest = b"", None
        checks.append(Check(name="manifest", ok=False, detail=str(e)))
    if manifest is not None:
        checks.append(_check_files(root, manifest))
        checks.append(_check_unlisted(root, manifest))
    checks.append(_check_bagit(root))

    key_source = "given" if vkey else "bundle"
    try:
        verifier = parse_vkey(vkey if vkey else _read_text(root, VKEY).strip())
    except VerificationError as e:
        checks.append(Check(name="signature", ok=False, detail=f"verifier key: {e}"))
        return BundleVerification(
            path=shown, checks=tuple(checks), manifest=manifest, key_source=key_source
        )

    def signature() -> str:
        text = _read_text(root, SIGNATURE).strip()
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
        own = _read_text(root, PUBKEY).strip()
        if own != base64.b64encode(verifier.public_key).decode("ascii"):
            raise VerificationError(f"{PUBKEY} is not the key of {verifier.name}")
        return f"Ed25519 signature by {verifier.name} ({key_source} key)"

    checks.append(_guard("signature", signature))
    checkpoint: Checkpoint | None = None
    index: int | None = None
    try:
        receipt = parse_receipt((root / RECEIPT).read_bytes())
        index = receipt.index
        checkpoint = open_checkpoint(receipt.checkpoint_note, verifier)
        checks.append(
            Check(
                name="checkpoint",
                ok=True,
                detail=f"{checkpoint.origin} size {checkpoint.size}, signed",
            )
        )
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
                new = open_checkpoint(note, verifier)
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
    )


def _extract_zip(path: Path, dest: Path) -> Path:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if sum(i.file_size for i in infos) > _MAX_ZIP_BYTES:
                raise VerificationError(f"{path}: zip expands beyond {_MAX_ZIP_BYTES} bytes")
            tops = set()
            for info in infos:
                parts = PurePosixPath(info.filename).parts
                if info.filename.startswith("/") or ".." in parts or "\\" in info.filename:
                    raise VerificationError(f"{path}: unsafe entry name {info.filename!r}")
                tops.add(parts[0])
            if len(tops) != 1:
                raise VerificationError(f"{path}: a bundle zip holds exactly one folder")
            zf.extractall(dest)
    except (zipfile.BadZipFile, OSError) as e:
        raise VerificationError(f"{path}: not a readable zip ({e})") from e
    return dest / tops.pop()


def verify_bundle(
    path: Path, *, vkey: str | None = None, newer: tuple[str, Sequence[bytes]] | None = None
) -> BundleVerification:
    """Verify a bundle folder or ``.zip`` offline.

    Args:
        path: The bundle folder, or a zip made by ``export_zip``.
        vkey: The ledger's verifier key (``name+id+key``) from a trusted source; without
            it the bundle's own ``ledger.vkey`` is used and ``key_source`` says so.
        newer: Optionally a newer signed checkpoint note and the consistency proof from the
            receipt's tree size to it.

    Returns:
        Every check with its outcome; the bundle is valid iff ``.ok``.

    Raises:
        VerificationError: ``path`` is neither a folder nor a readable, safe zip.
    """
    if path.is_dir():
        return _verify_folder(path, vkey=vkey, newer=newer, shown=str(path))
    if path.is_file() and zipfile.is_zipfile(path):
        with tempfile.TemporaryDirectory(prefix="copyseal-verify-") as tmp:
            folder = _extract_zip(path, Path(tmp))
            return _verify_folder(folder, vkey=vkey, newer=newer, shown=str(path))
    raise VerificationError(f"{path}: not a bundle folder or zip")
