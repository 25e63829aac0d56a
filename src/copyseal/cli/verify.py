"""``copyseal verify``: check an evidence bundle, or a receipt, offline.

Needs no workspace and no database (except ``--against-workspace``). ``--json`` shapes
(public contracts):

- a bundle (folder or zip): ``{"ok", "path", "bundle_id", "url", "captured_at",
  "key_source", "ledger": {"origin", "index", "checkpoint_size", "root"} | null,
  "checks": [{"name", "ok", "detail"}]}``; exit code 0 iff ok, else 3; with
  ``--anchor-proof`` the checks go on with ``anchor-consistency``, ``anchor:KIND:NAME``
  (``…:online`` with ``--rpc``) and ``anchor-witnesses`` (with ``--min-witnesses``), and
  ``"anchors": [{"kind", "name", "origin", "size", "root", "time", "block", "detail"}]``
  says what each anchor proves;
- a receipt: ``{"ok": true, "origin", "index", "size", "root", "leaf_hash_hex"}`` (root in
  base64); a failed verification prints ``error: …`` and exits with code 3. With
  ``--anchor-proof`` (a work's registration from ``copyseal works anchor-proof``, whose
  ``--data`` is the original picture, or any entry's with ``--data`` the logged bytes) it
  adds ``"subject"`` (``work w… (sha256 …)``), ``"statement"`` (the logged statement the
  file carries, or null), ``"checks"``, ``"anchors"`` (as for a bundle) and ``"proven"``
  (one sentence per anchor that vouches for a time: ``… existed no later than T, by TSA
  X``); ``"ok"`` is false and the exit code 3 when an anchor check fails.
"""

from __future__ import annotations

import base64
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from copyseal.bundle.anchored import with_anchor_proof
from copyseal.bundle.check import BundleVerification, verify_bundle
from copyseal.cli._common import App, emit, json_option, pass_app
from copyseal.errors import CopysealError
from copyseal.verify import AnchoredReceipt, load_vkey, verify_anchored_receipt, verify_receipt_file

__all__ = ["verify"]

_HEX_HASH = re.compile(r"[0-9a-fA-F]{64}")


@click.command()
@click.argument("receipt", metavar="BUNDLE|RECEIPT", type=click.Path(path_type=Path))
@click.option(
    "--vkey",
    help="The log's verifier key (name+keyid+key), or a file holding it. Required for a"
    " receipt; for a bundle, without it the bundle's own key is used (and reported).",
)
@click.option(
    "--trust-bundle-key",
    is_flag=True,
    help="Bundle without --vkey: accept the key inside the bundle (proves self-consistency only).",
)
@click.option(
    "--against-workspace",
    is_flag=True,
    help="Bundle: also check that the workspace's latest checkpoint extends the receipt's"
    " and that its ledger still holds the manifest (``entry``).",
)
@click.option(
    "--data",
    "data_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The logged bytes (a statement, or a bundle's manifest.json).",
)
@click.option("--leaf-hash", help="Instead of --data: the entry's leaf hash in hex.")
@click.option("--origin", help="The log origin to expect (default: the vkey's name).")
@click.option(
    "--anchor-proof",
    "anchor_proof",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Also check this anchor proof file ('copyseal bundles anchor-proof', or with a"
    " receipt and --data ORIGINAL 'copyseal works anchor-proof').",
)
@click.option(
    "--tsa-ca",
    "tsa_cas",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="With --anchor-proof: a time-stamping authority's CA certificate(s), PEM (repeatable).",
)
@click.option(
    "--witness",
    "witnesses",
    multiple=True,
    help="With --anchor-proof: a witness's cosignature vkey, or a file holding it (repeatable).",
)
@click.option(
    "--min-witnesses",
    type=click.IntRange(min=0),
    default=0,
    help="With --anchor-proof: require cosignatures by at least this many --witness keys.",
)
@click.option("--rpc", help="With --anchor-proof: an EVM node's URL, to check blocks online.")
@json_option
@pass_app
def verify(
    app: App,
    receipt: Path,
    vkey: str | None,
    trust_bundle_key: bool,
    against_workspace: bool,
    data_path: Path | None,
    leaf_hash: str | None,
    origin: str | None,
    anchor_proof: Path | None,
    tsa_cas: tuple[Path, ...],
    witnesses: tuple[str, ...],
    min_witnesses: int,
    rpc: str | None,
    as_json: bool,
) -> None:
    """Verify an evidence BUNDLE (folder or .zip), or a tlog-proof RECEIPT, offline.

    A bundle: every file's hash and size, no unlisted file, the BagIt manifests, the
    manifest's signature, the checkpoint's signature and the inclusion proof of the
    manifest in the ledger. A receipt: against --data (or --leaf-hash) and --vkey; with
    --anchor-proof, a work's registration receipt against the original picture (--data).
    """
    if receipt.is_dir() or zipfile.is_zipfile(receipt):
        _verify_bundle(
            app,
            receipt,
            vkey=vkey,
            trust=trust_bundle_key,
            against_workspace=against_workspace,
            as_json=as_json,
            anchoring=None
            if anchor_proof is None
            else _Anchoring(
                proof=anchor_proof,
                tsa_cas=tsa_cas,
                witnesses=tuple(load_vkey(w) for w in witnesses),
                min_witnesses=min_witnesses,
                rpc=rpc,
            ),
        )
        return
    if vkey is None:
        raise click.UsageError("a receipt needs --vkey")
    if (data_path is None) == (leaf_hash is None):
        raise click.UsageError("give exactly one of --data or --leaf-hash")
    if leaf_hash is not None and not _HEX_HASH.fullmatch(leaf_hash):
        raise click.BadParameter("64 hex digits", param_hint="--leaf-hash")
    if anchor_proof is not None:
        if data_path is None:
            raise click.UsageError("a receipt with --anchor-proof needs --data")
        anchoring = _Anchoring(
            proof=anchor_proof,
            tsa_cas=tsa_cas,
            witnesses=tuple(load_vkey(w) for w in witnesses),
            min_witnesses=min_witnesses,
            rpc=rpc,
        )
        checked = verify_anchored_receipt(
            receipt,
            vkey=vkey,
            data=data_path,
            anchor_proof=anchor_proof.read_bytes(),
            options=anchoring.options(),
            min_witnesses=min_witnesses,
            online=rpc is not None,
            origin=origin,
        )
        _emit_anchored_receipt(app, receipt, checked, as_json=as_json)
        return
    result = verify_receipt_file(
        receipt,
        vkey=vkey,
        data=data_path,
        leaf=None if leaf_hash is None else bytes.fromhex(leaf_hash),
        origin=origin,
    )
    data = {
        "ok": True,
        "origin": result.origin,
        "index": result.index,
        "size": result.size,
        "root": base64.b64encode(result.root).decode("ascii"),
        "leaf_hash_hex": result.leaf_hash.hex(),
    }

    def human(console: Console) -> None:
        console.print(
            f"[green]verified[/green]: entry {result.index} of {result.origin}"
            f" (checkpoint size {result.size:,}, root {data['root']})"
        )

    emit(app, data, as_json=as_json, human=human)


def _emit_anchored_receipt(
    app: App, receipt: Path, checked: AnchoredReceipt, *, as_json: bool
) -> None:
    result = checked.receipt
    data: dict[str, Any] = {
        "ok": checked.ok,
        "origin": result.origin,
        "index": result.index,
        "size": result.size,
        "root": base64.b64encode(result.root).decode("ascii"),
        "leaf_hash_hex": result.leaf_hash.hex(),
        "subject": checked.subject,
        "statement": None if checked.statement is None else dict(checked.statement),
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checked.checks],
        "anchors": [p.to_json() for p in checked.proven],
        "proven": checked.claims(),
    }

    def human(console: Console) -> None:
        # emoji=False: a check named anchor:ledger:… is no ":ledger:" emoji code
        console.print(
            f"[green]ok[/green]   receipt      entry {result.index} of {result.origin}"
            f" (checkpoint size {result.size:,}): {checked.subject}",
            emoji=False,
        )
        for check in checked.checks:
            mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
            console.print(f"{mark} {check.name:12} {escape(check.detail)}", emoji=False)
        for claim in checked.claims():
            console.print(f"[green]proven[/green] {escape(claim)}", emoji=False)
        if checked.ok:
            console.print(f"[green]verified[/green]: {receipt}")

    emit(app, data, as_json=as_json, human=human)
    if not checked.ok:
        failed = ", ".join(c.name for c in checked.checks if not c.ok)
        if not as_json:
            click.echo(f"error: {receipt}: verification failed ({failed})", err=True)
        raise click.exceptions.Exit(3)


def _newer_from_workspace(app: App, path: Path) -> tuple[str, Sequence[bytes]] | None:
    """The workspace's latest checkpoint and a consistency proof from the bundle's."""
    first = verify_bundle(path, trust_bundle_key=True)
    if first.checkpoint is None:
        return None
    ledger = app.workspace().ledger()
    latest = ledger.latest_checkpoint()
    if latest.size < first.checkpoint.size:
        return latest.note, []  # a shorter log than the receipt's: the check will fail
    try:
        return latest.note, ledger.consistency_proof(first.checkpoint.size, latest.size)
    except CopysealError:
        # The log cannot prove it extends the receipt's checkpoint (its entries or stored
        # hashes are gone): no proof, so the consistency check fails, and the entry check
        # says what is missing; a verification failure, not an error of the command.
        return latest.note, []


@dataclass(frozen=True, kw_only=True)
class _Anchoring:
    """What ``--anchor-proof`` and its companion flags give."""

    proof: Path
    tsa_cas: tuple[Path, ...]
    witnesses: tuple[str, ...]
    min_witnesses: int
    rpc: str | None

    def options(self) -> dict[str, list[dict[str, Any]]]:
        """Per kind, the public material to try (see ``verify_proof_file``)."""
        return {
            "rfc3161": [{"ca_file": p} for p in self.tsa_cas],
            "witness": [{"vkey": w} for w in self.witnesses],
            "evm": [{"rpc_url": self.rpc}] if self.rpc else [],
        }


def _verify_bundle(
    app: App,
    path: Path,
    *,
    vkey: str | None,
    trust: bool,
    against_workspace: bool,
    as_json: bool,
    anchoring: _Anchoring | None = None,
) -> None:
    newer = _newer_from_workspace(app, path) if against_workspace else None
    given = load_vkey(vkey) if vkey else None
    result: BundleVerification = verify_bundle(
        path, vkey=given, newer=newer, trust_bundle_key=trust
    )
    if against_workspace:
        # The workspace's ledger must still hold the manifest, and at least as many
        # entries as the receipt's checkpoint (entries deleted under kept checkpoints).
        from dataclasses import replace

        from copyseal.review.shown import entry_check

        entry = entry_check(app.workspace(), result)
        if entry is not None:
            result = replace(result, checks=(*result.checks, entry))
    if anchoring is not None:
        result = with_anchor_proof(
            result,
            anchoring.proof.read_bytes(),
            vkey=given,
            options=anchoring.options(),
            min_witnesses=anchoring.min_witnesses,
            online=anchoring.rpc is not None,
        )

    def human(console: Console) -> None:
        for check in result.checks:
            mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
            # No emoji codes (":ledger:" in a check name) and no markup from the bundle.
            console.print(f"{mark} {check.name:12} {escape(check.detail)}", emoji=False)
        for proven in result.extra.get("anchors", ()):
            claim = f"{proven['kind']}:{proven['name']}: {proven['detail']}"
            console.print(f"[green]proven[/green] {escape(claim)}", emoji=False)
        if result.ok:
            console.print(f"[green]verified[/green]: {escape(str(path))}", emoji=False)
            if result.key_source == "bundle":
                console.print(
                    "[yellow]note[/yellow]: checked with the key inside the bundle, which proves"
                    " only self-consistency; pass --vkey with the ledger's key from a trusted"
                    " source"
                )

    emit(app, result.to_json(), as_json=as_json, human=human)
    if not result.ok:
        failed = ", ".join(c.name for c in result.failures())
        if not as_json:
            click.echo(f"error: {path}: verification failed ({failed})", err=True)
        raise click.exceptions.Exit(3)
