from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from copyseal.bundle import BundleInfo, EvidenceFile, export_zip, verify_bundle, write_bundle
from copyseal.errors import BundleError, VerificationError
from copyseal.ledger import Ledger
from copyseal.verify import load_vkey


def writable_copy(bundle: BundleInfo, tmp_path: Path) -> Path:
    dest = tmp_path / "copy" / bundle.bundle_id
    shutil.copytree(bundle.path, dest)
    for p in dest.rglob("*"):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    return dest


def flip(path: Path, offset: int = -1) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def failed(result: object) -> dict[str, str]:
    return {c.name: c.detail for c in result.checks if not c.ok}  # type: ignore[attr-defined]


def test_a_fresh_bundle_verifies(bundle: BundleInfo, ledger: Ledger) -> None:
    result = verify_bundle(bundle.path, vkey=ledger.vkey())
    assert result.ok, result.failures()
    assert [c.name for c in result.checks] == [
        "manifest",
        "files",
        "unlisted",
        "tags",
        "signature",
        "checkpoint",
        "inclusion",
    ]
    doc = result.to_json()
    assert doc["ok"] is True and doc["key_source"] == "given"
    assert doc["ledger"]["index"] == bundle.ledger_index


def test_without_a_vkey_the_bundle_key_is_not_trusted_unless_asked(bundle: BundleInfo) -> None:
    result = verify_bundle(bundle.path)
    assert not result.ok and result.key_source == "bundle"
    assert "give the ledger's --vkey" in failed(result)["key"]
    assert [c.name for c in result.failures()] == ["key"]
    trusted = verify_bundle(bundle.path, trust_bundle_key=True)
    assert trusted.ok and trusted.key_source == "bundle"


def test_an_empty_vkey_is_no_key(bundle: BundleInfo, tmp_path: Path) -> None:
    """``--vkey FILE`` with an empty file gives ``""``: the bundle's own key must not then
    pass silently as if the ledger's had been given."""
    empty = tmp_path / "ledger.vkey"
    empty.write_text("\n")
    for given in ("", " ", str(empty)):
        result = verify_bundle(bundle.path, vkey=load_vkey(given))
        assert not result.ok and result.key_source == "bundle", given
        assert [c.name for c in result.failures()] == ["key"]


def test_a_bundle_forged_with_another_key_passes_only_self_consistency(
    bundle: BundleInfo, ledger: Ledger, tmp_path: Path
) -> None:
    """Re-sign a changed manifest with a fresh key and a fresh one-entry log: the bundle is
    consistent with itself, so only the trusted vkey exposes it."""
    from nacl.signing import SigningKey

    from copyseal.bundle._tags import derived_tags, tag_manifest
    from copyseal.bundle.manifest import parse_manifest
    from copyseal.ledger import leaf_hash
    from copyseal.ledger.checkpoint import Checkpoint
    from copyseal.ledger.note import NoteSigner
    from copyseal.ledger.proof import Receipt

    copy = writable_copy(bundle, tmp_path)
    m = parse_manifest((copy / "manifest.json").read_bytes())
    forged = type(m)(**{**m.__dict__, "url": "http://evil.example/"})
    data = forged.to_bytes()
    key = SigningKey.generate()
    signer = NoteSigner(name=bundle_origin(bundle), signing_key=key)
    note = Checkpoint(origin=signer.name, size=1, root=leaf_hash(data)).sign(signer)
    (copy / "manifest.json").write_bytes(data)
    (copy / "manifest.json.sig").write_bytes(base64.b64encode(key.sign(data).signature) + b"\n")
    (copy / "manifest.json.tlog-proof").write_text(
        Receipt(index=0, proof=(), checkpoint_note=note).format()
    )
    for name, content in derived_tags(
        forged, vkey=signer.verifier.vkey, public_key=bytes(key.verify_key)
    ).items():
        (copy / name).write_bytes(content)
    (copy / "tagmanifest-sha256.txt").write_bytes(tag_manifest(copy))
    assert verify_bundle(copy, trust_bundle_key=True).ok  # self-consistent
    assert not verify_bundle(copy).ok
    assert {"tags", "signature", "checkpoint"} <= set(
        failed(verify_bundle(copy, vkey=ledger.vkey()))
    )


@pytest.mark.parametrize(
    "name",
    ["README.txt", "bag-info.txt", "signing.pub.pem", "signing.pub", "ledger.vkey", "bagit.txt"],
)
def test_every_tag_file_is_checked(
    bundle: BundleInfo, ledger: Ledger, tmp_path: Path, name: str
) -> None:
    copy = writable_copy(bundle, tmp_path)
    path = copy / name
    path.write_bytes(path.read_bytes().replace(b"a", b"b", 1) + b"x")
    # Even with the tag manifest rewritten to match, the rebuilt file differs.
    from copyseal.bundle._tags import tag_manifest

    (copy / "tagmanifest-sha256.txt").write_bytes(tag_manifest(copy))
    result = verify_bundle(copy, vkey=ledger.vkey())
    assert f"{name} differs" in failed(result)["tags"]


def test_emptied_bagit_manifests_are_caught(
    bundle: BundleInfo, ledger: Ledger, tmp_path: Path
) -> None:
    copy = writable_copy(bundle, tmp_path)
    (copy / "manifest-sha256.txt").write_text("")
    (copy / "tagmanifest-sha256.txt").write_text("")
    detail = failed(verify_bundle(copy, vkey=ledger.vkey()))["tags"]
    assert "manifest-sha256.txt differs" in detail and "tagmanifest-sha256.txt" in detail


def test_a_symlinked_evidence_file_is_refused(
    bundle: BundleInfo, ledger: Ledger, tmp_path: Path
) -> None:
    copy = writable_copy(bundle, tmp_path)
    target = copy / "data" / "page" / "raw.html"
    outside = tmp_path / "outside.html"
    outside.write_bytes(target.read_bytes())
    target.unlink()
    target.symlink_to(outside)
    assert (
        "not a regular file inside the bundle"
        in failed(verify_bundle(copy, vkey=ledger.vkey()))["files"]
    )


@pytest.mark.parametrize(
    ("relpath", "offset", "check", "message"),
    [
        ("data/screenshot-full.png", 100, "files", "data/screenshot-full.png: SHA-256 differs"),
        ("data/page/raw.html", 3, "files", "data/page/raw.html: SHA-256 differs"),
        ("data/images/found.png", -1, "files", "data/images/found.png: SHA-256 differs"),
        ("manifest.json", 40, "manifest", "manifest.json"),
        ("manifest.json.sig", 5, "signature", "manifest.json.sig"),
        ("manifest.json.tlog-proof", -30, "checkpoint", "manifest.json.tlog-proof"),
    ],
)
def test_one_flipped_byte_is_caught_and_named(
    bundle: BundleInfo,
    ledger: Ledger,
    tmp_path: Path,
    relpath: str,
    offset: int,
    check: str,
    message: str,
) -> None:
    copy = writable_copy(bundle, tmp_path)
    flip(copy / relpath, offset)
    result = verify_bundle(copy, vkey=ledger.vkey())
    assert not result.ok
    assert check in failed(result), failed(result)
    assert message in failed(result)[check]


def test_proof_hash_change_is_caught(bundle: BundleInfo, ledger: Ledger, tmp_path: Path) -> None:
    copy = writable_copy(bundle, tmp_path)
    receipt = copy / "manifest.json.tlog-proof"
    lines = receipt.read_text().split("\n")
    assert lines[1] == f"index {bundle.ledger_index}" and len(lines[2]) == 44
    lines[2] = ("B" if lines[2][0] == "A" else "A") + lines[2][1:]
    receipt.write_text("\n".join(lines))
    assert "inclusion proof" in failed(verify_bundle(copy, vkey=ledger.vkey()))["inclusion"]


def test_checkpoint_body_change_is_caught(
    bundle: BundleInfo, ledger: Ledger, tmp_path: Path
) -> None:
    copy = writable_copy(bundle, tmp_path)
    receipt = copy / "manifest.json.tlog-proof"
    text = receipt.read_text()
    head, _, note = text.partition("\n\n")
    origin, size, rest = note.split("\n", 2)
    receipt.write_text(f"{head}\n\n{origin}\n{int(size) + 1}\n{rest}")
    assert "checkpoint" in failed(verify_bundle(copy, vkey=ledger.vkey()))


def test_unlisted_and_missing_files(bundle: BundleInfo, ledger: Ledger, tmp_path: Path) -> None:
    copy = writable_copy(bundle, tmp_path)
    (copy / "data" / "extra.txt").write_text("planted")
    assert "data/extra.txt" in failed(verify_bundle(copy, vkey=ledger.vkey()))["unlisted"]
    copy2 = writable_copy(bundle, tmp_path / "2")
    (copy2 / "data" / "page" / "raw.html").unlink()
    assert (
        "data/page/raw.html: missing" in failed(verify_bundle(copy2, vkey=ledger.vkey()))["files"]
    )


def test_another_key_is_rejected(bundle: BundleInfo, tmp_path: Path) -> None:
    from nacl.signing import SigningKey

    from copyseal.ledger.note import format_vkey

    other = format_vkey(bundle_origin(bundle), bytes(SigningKey.generate().verify_key))
    result = verify_bundle(bundle.path, vkey=other)
    assert {"signature", "checkpoint"} <= set(failed(result))


def bundle_origin(bundle: BundleInfo) -> str:
    return (bundle.path / "ledger.vkey").read_text().split("+")[0]


def test_consistency_with_a_newer_checkpoint(bundle: BundleInfo, ledger: Ledger) -> None:
    ledger.append([("test", b"later entry")])
    newer = ledger.latest_checkpoint()
    proof = ledger.consistency_proof(bundle.checkpoint_size, newer.size)
    result = verify_bundle(bundle.path, vkey=ledger.vkey(), newer=(newer.note, proof))
    assert result.ok and result.checks[-1].name == "consistency"
    bad = [bytes(32)] * len(proof)
    assert "consistency" in failed(
        verify_bundle(bundle.path, vkey=ledger.vkey(), newer=(newer.note, bad))
    )


def test_zip_round_trip_and_unsafe_zip(bundle: BundleInfo, ledger: Ledger, tmp_path: Path) -> None:
    archive = export_zip(bundle.path, tmp_path / "b.zip")
    assert verify_bundle(archive, vkey=ledger.vkey()).ok
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../escape.txt", "x")
    with pytest.raises(VerificationError, match="unsafe entry name"):
        verify_bundle(evil)
    dot = tmp_path / "dot.zip"
    with zipfile.ZipFile(dot, "w") as zf:
        zf.writestr(".", "x")
    with pytest.raises(VerificationError, match="unsafe entry name"):
        verify_bundle(dot)
    with pytest.raises(VerificationError, match="not a bundle folder or zip"):
        verify_bundle(tmp_path / "nothing")


def test_the_receipt_is_the_ledgers_byte_for_byte(bundle: BundleInfo, ledger: Ledger) -> None:
    """The writer takes the checkpoint's proof from the ledger's anchor; the receipt is
    still exactly the tlog-proof the ledger itself hands out (the format is unchanged)."""
    receipt = (bundle.path / "manifest.json.tlog-proof").read_text(encoding="utf-8")
    assert receipt == ledger.receipt(bundle.ledger_index)
    result = verify_bundle(bundle.path, vkey=ledger.vkey())
    checks = {c.name: c.detail for c in result.checks}
    assert checks["checkpoint"] == f"{ledger.origin} size {bundle.checkpoint_size}, signed"
    assert checks["inclusion"] == f"manifest.json is entry {bundle.ledger_index} of 6"
    doc = result.to_json()
    assert list(doc) == [
        "ok",
        "path",
        "bundle_id",
        "url",
        "captured_at",
        "key_source",
        "ledger",
        "checks",
    ]
    assert doc["ledger"] == {
        "origin": ledger.origin,
        "index": 5,
        "checkpoint_size": 6,
        "root": base64.b64encode(ledger.root_at(6)).decode("ascii"),
    }


def test_the_checkpoint_check_goes_through_the_anchor_table(
    bundle: BundleInfo, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Swap the receipt kind's entry for one that refuses every proof: only the checkpoint
    check fails, with the anchor's own words."""
    from copyseal.anchors import AnchorContext, AnchorError, AnchorVerificationError, table
    from copyseal.ledger.checkpoint import Checkpoint

    class Refusing:
        kind = "ledger"
        name = "refusing"

        @classmethod
        def from_context(cls, context: AnchorContext) -> Refusing:
            return cls()

        def anchor(self, checkpoint: Checkpoint) -> Any:
            raise AnchorError("cannot anchor")

        def prove(self, record: Any) -> bytes:
            raise AnchorError("cannot prove")

        def verify(self, proof: bytes, checkpoint: Checkpoint) -> Any:
            raise AnchorVerificationError("refused by the test anchor")

    monkeypatch.setattr(table, "ANCHORS", {"ledger": Refusing})
    result = verify_bundle(bundle.path, vkey=ledger.vkey())
    assert failed(result) == {"checkpoint": "manifest.json.tlog-proof: refused by the test anchor"}
    assert "inclusion" not in {c.name for c in result.checks}


def test_bundle_verification_imports_no_database_code() -> None:
    code = (
        "import sys, copyseal.bundle.check\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic')"
        " or m.startswith(('copyseal.db', 'copyseal.ledger.store'))]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_signing_key_that_is_not_the_ledgers_is_refused_before_logging(
    ledger: Ledger, evidence_files: list[EvidenceFile], tmp_path: Path
) -> None:
    """A bundle signed by another key than the ledger's could never verify with the
    ledger's vkey; the writer refuses it before anything is anchored."""
    from datetime import UTC, datetime

    from nacl.signing import SigningKey

    size = ledger.size()
    with pytest.raises(BundleError, match="not the key of ledger"):
        write_bundle(
            root=tmp_path / "bundles",
            url="http://x/",
            captured_at=datetime.now(UTC),
            files=evidence_files,
            match=None,
            capture={},
            signing_key=SigningKey.generate(),
            ledger=ledger,
        )
    assert ledger.size() == size
    assert not (tmp_path / "bundles").exists() or not any((tmp_path / "bundles").iterdir())
