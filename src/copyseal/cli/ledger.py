"""``copyseal ledger …``: the transparency log's head, key, proofs and audit.

``--json`` shapes (public contracts; hashes are base64 unless the key ends in ``_hex``):

- ``status``: ``{"origin", "size", "root", "root_hex", "checkpoints", "issued_at",
  "entry_types": {type: count}, "vkey"}``
- ``checkpoint``: ``{"origin", "size", "root", "issued_at", "note"}``
- ``vkey``: ``{"origin", "key_id", "vkey"}``
- ``proof``: ``{"index", "leaf_hash_hex", "entry_type", "size", "proof": [b64…],
  "receipt"}``
- ``consistency``: ``{"old_size", "old_root", "new_size", "new_root", "proof": [b64…],
  "old_checkpoint": note | null, "new_checkpoint": note}``
- ``export-tiles``: ``{"directory", "size", "tiles_written", "bundles_written"}``
- ``anchor-proof``: ``{"index", "receipt", "anchor_proof", "size", "anchored": [{"size",
  "anchors": ["KIND:NAME", …]}]}`` (``receipt``, ``anchor_proof``: the files written)
- ``audit``: ``{"ok", "size", "entries_checked", "checkpoints_checked",
  "trusted_checked", "root", "problem": null | {"kind", "index", "message"},
  "read_back": [{"kind", "name", "size", "root", "error"}]}``;
  exit code 3 when a problem is found. Each anchor's newest anchored checkpoint (as
  recorded by ``copyseal anchors run``) is audited as a trusted one, and a problem at
  its size names the anchors (``anchored by evm:NAME, …``). So is the checkpoint of
  every sealed bundle's receipt: a log shorter than one fails.
"""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from copyseal.cli._common import App, emit, json_option, pass_app
from copyseal.errors import LedgerError, VerificationError
from copyseal.files import publish_bytes
from copyseal.ledger import AuditProblem, Ledger, SignedCheckpoint
from copyseal.ledger.checkpoint import parse_checkpoint
from copyseal.ledger.note import parse_note
from copyseal.ledger.proof import parse_receipt
from copyseal.ledger.tiles import export_tiles

__all__ = ["ledger", "open_ledger"]

_HEX_HASH = re.compile(r"[0-9a-fA-F]{64}")
#: Exit code of ``ledger audit`` when the log is inconsistent (that of VerificationError).
AUDIT_FAILED = VerificationError.exit_code


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _time(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat().replace("+00:00", "Z")


def open_ledger(app: App) -> Ledger:
    """The workspace's ledger: its database, configured origin and signing key."""
    return app.workspace().ledger()


def _checkpoint_json(cp: SignedCheckpoint) -> dict[str, Any]:
    return {
        "origin": cp.checkpoint.origin,
        "size": cp.size,
        "root": _b64(cp.root),
        "issued_at": _time(cp.issued_at),
        "note": cp.note,
    }


@click.group()
def ledger() -> None:
    """The append-only evidence log: checkpoints, proofs, audit."""


@ledger.command()
@json_option
@pass_app
def status(app: App, as_json: bool) -> None:
    """Show the log's size, root, checkpoints and entries per type."""
    log = open_ledger(app)
    st = log.status()
    data = {
        "origin": st.origin,
        "size": st.latest.size,
        "root": _b64(st.latest.root),
        "root_hex": st.latest.root.hex(),
        "checkpoints": st.checkpoints,
        "issued_at": _time(st.latest.issued_at),
        "entry_types": st.entry_types,
        "vkey": log.vkey(),
    }

    def human(console: Console) -> None:
        table = Table(title=f"ledger {st.origin}", show_header=False)
        for key in ("size", "root", "checkpoints", "issued_at", "vkey"):
            table.add_row(key.replace("_", " "), str(data[key]))
        for entry_type, count in st.entry_types.items():
            table.add_row(f"entries: {entry_type}", f"{count:,}")
        console.print(table)

    emit(app, data, as_json=as_json, human=human)


@ledger.command()
@click.option("--size", type=int, help="The checkpoint issued at this size (default: latest).")
@json_option
@pass_app
def checkpoint(app: App, size: int | None, as_json: bool) -> None:
    """Print the latest signed checkpoint (a C2SP signed note)."""
    log = open_ledger(app)
    cp = log.latest_checkpoint() if size is None else log.checkpoint_at(size)
    if cp is None:
        raise LedgerError(f"no checkpoint was issued at size {size}")
    emit(app, _checkpoint_json(cp), as_json=as_json, human=lambda c: click.echo(cp.note, nl=False))


@ledger.command()
@json_option
@pass_app
def vkey(app: App, as_json: bool) -> None:
    """Print the verifier key that checks the log's checkpoints."""
    log = open_ledger(app)
    key = log.vkey()
    data = {"origin": log.origin, "key_id": key.split("+")[1], "vkey": key}
    emit(app, data, as_json=as_json, human=lambda c: click.echo(key))


@ledger.command()
@click.argument("entry")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the receipt to this file (e.g. entry.tlog-proof).",
)
@json_option
@pass_app
def proof(app: App, entry: str, out: Path | None, as_json: bool) -> None:
    """Print a tlog-proof receipt for ENTRY (an index, or a leaf hash in hex)."""
    log = open_ledger(app)
    if entry.isdigit():
        index = int(entry)
    elif _HEX_HASH.fullmatch(entry):
        found = log.find(bytes.fromhex(entry))
        if found is None:
            raise LedgerError(f"no ledger entry has leaf hash {entry.lower()}")
        index = found
    else:
        raise click.BadParameter("an entry index or a 64-digit hex leaf hash", param_hint="ENTRY")
    receipt = log.receipt(index)
    item = log.entry(index)
    if out is not None:
        publish_bytes(out, receipt.encode("utf-8"), overwrite=True)
    parsed = parse_receipt(receipt)
    data = {
        "index": index,
        "leaf_hash_hex": item.leaf_hash.hex(),
        "entry_type": item.entry_type,
        "size": parse_checkpoint(parse_note(parsed.checkpoint_note).text).size,
        "proof": [_b64(h) for h in parsed.proof],
        "receipt": receipt,
    }
    emit(app, data, as_json=as_json, human=lambda c: click.echo(receipt, nl=False))


@ledger.command(name="anchor-proof")
@click.argument("index", type=click.IntRange(min=0))
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The entry's receipt to write (tlog-proof; never overwritten). The anchor proof"
    " goes beside it, as FILE.anchor-proof.json.",
)
@json_option
@pass_app
def anchor_proof(app: App, index: int, out: Path, as_json: bool) -> None:
    """Write ledger entry INDEX's receipt and its anchor proof (a review decision, an
    export, any statement), once an anchor covers it.

    Check them with 'copyseal verify FILE --vkey KEY --data STATEMENT --anchor-proof
    FILE.anchor-proof.json' (STATEMENT: the logged bytes, e.g. an export's .export.json).
    """
    from copyseal.anchors.service import entry_proof
    from copyseal.cli._proofs import emit_entry_proof

    receipt, data = entry_proof(app.workspace(), index)
    emit_entry_proof(app, out, receipt, data, head={}, as_json=as_json)


@ledger.command()
@click.argument("old_size", type=int)
@click.option("--new", "new_size", type=int, help="The newer size (default: latest).")
@json_option
@pass_app
def consistency(app: App, old_size: int, new_size: int | None, as_json: bool) -> None:
    """Print the RFC 9162 consistency proof from OLD_SIZE to the latest size (base64, one
    hash per line)."""
    log = open_ledger(app)
    latest = log.latest_checkpoint()
    new_size = latest.size if new_size is None else new_size
    hashes = log.consistency_proof(old_size, new_size)
    old_cp = log.checkpoint_at(old_size)
    new_cp = latest if new_size == latest.size else log.checkpoint_at(new_size)
    data = {
        "old_size": old_size,
        "old_root": _b64(log.root_at(old_size)),
        "new_size": new_size,
        "new_root": _b64(log.root_at(new_size)),
        "proof": [_b64(h) for h in hashes],
        "old_checkpoint": None if old_cp is None else old_cp.note,
        "new_checkpoint": None if new_cp is None else new_cp.note,
    }
    lines = "".join(f"{_b64(h)}\n" for h in hashes)
    emit(app, data, as_json=as_json, human=lambda c: click.echo(lines, nl=False))


@ledger.command(name="export-tiles")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@json_option
@pass_app
def export_tiles_command(app: App, directory: Path, as_json: bool) -> None:
    """Write the log as static C2SP tlog-tiles into DIRECTORY (to publish and mirror)."""
    result = export_tiles(open_ledger(app), directory)
    data = {
        "directory": str(directory),
        "size": result.size,
        "tiles_written": result.tiles_written,
        "bundles_written": result.bundles_written,
    }
    emit(
        app,
        data,
        as_json=as_json,
        human=lambda c: c.print(
            f"{directory}: {result.tiles_written} tiles and {result.bundles_written} entry"
            f" bundles written (size {result.size:,})"
        ),
    )


@ledger.command()
@click.option(
    "--trusted",
    "trusted_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A checkpoint or receipt obtained earlier (repeatable): catches a rewritten log.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Do not ask the chain and the witnesses what they hold (only the workspace's"
    " own anchor records are checked).",
)
@json_option
@pass_app
def audit(app: App, trusted_files: tuple[Path, ...], offline: bool, as_json: bool) -> None:
    """Recompute the whole log and check every stored hash and checkpoint, and hold it
    against what the anchors committed (recorded here, and read back from the chain and
    the witnesses unless --offline)."""
    log = open_ledger(app)
    trusted = [p.read_text(encoding="utf-8") for p in trusted_files]
    # Each anchor's newest anchored checkpoint is a trusted one: a log shorter than it, or
    # not extending it, was truncated or rewritten after the anchor committed it.
    from copyseal.anchors.service import anchored_notes, disagreement, read_back

    with app.workspace().engine.connect() as conn:
        anchored = anchored_notes(conn)
    # So is every checkpoint a sealed bundle's receipt carries: the log handed it out.
    # Those the log still covers are audited as trusted; one beyond its size is reported
    # after the anchors' findings (which name the anchor, and so say more).
    from copyseal.review.evidence import receipt_notes

    receipts = receipt_notes(app.workspace())
    size_now = log.size()
    within = [note for size, note in receipts if size <= size_now]
    beyond = max((size for size, _ in receipts), default=0)
    report = log.audit(trusted=[*trusted, *(note for *_, note in anchored), *within])
    problem = report.problem
    if problem is not None:
        named = [f"{kind}:{name}" for kind, name, size, _ in anchored if size == problem.index]
        if named:
            problem = replace(
                problem,
                message=f"{problem.message} (checkpoint {problem.index} anchored by"
                f" {', '.join(named)})",
            )
    # The records above live in the workspace: whoever rewrites the log can rewrite them
    # too, so the anchors that can say what they hold are asked as well.
    backs = [] if offline else read_back(app.workspace())
    if problem is None:
        problem = disagreement(log, backs)
    if problem is None and beyond > report.size:
        problem = AuditProblem(
            kind="missing-entry",
            index=report.size,
            message=f"a sealed bundle's receipt has checkpoint {beyond} but the log only has"
            f" {report.size} entries: it was truncated or rolled back",
        )
    data = {
        "ok": report.ok,
        "size": report.size,
        "entries_checked": report.entries_checked,
        "checkpoints_checked": report.checkpoints_checked,
        "trusted_checked": report.trusted_checked,
        "root": _b64(report.root),
        "problem": None
        if problem is None
        else {"kind": problem.kind, "index": problem.index, "message": problem.message},
        "read_back": [b.to_json() for b in backs],
    }

    def human(console: Console) -> None:
        if problem is None:
            console.print(
                f"[green]ok[/green]: {report.entries_checked:,} entries and"
                f" {report.checkpoints_checked:,} checkpoints"
                f" ({report.trusted_checked} trusted) match; size {report.size:,}"
            )
        else:
            console.print(f"[red]FAILED[/red] ({problem.kind}): {problem.message}")

    emit(app, data, as_json=as_json, human=human)
    if problem is not None:
        raise click.exceptions.Exit(AUDIT_FAILED)
