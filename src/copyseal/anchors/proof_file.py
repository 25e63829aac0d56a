"""Anchor proof files: a bundle's checkpoint, carried to anchored checkpoints, and each
anchor's proof of those, in one self-contained JSON file.

A bundle is sealed (with a receipt at checkpoint *n*) before any external anchor commits
a checkpoint covering it, and is never rewritten. An anchor proof file bridges the two:
for each anchored checkpoint *m ≥ n* it holds the RFC 9162 consistency proof from *n* to
*m* (§2.1.4: every entry up to *n* is unchanged in *m*), *m*'s note signed by the log's
key, and the anchors' proofs of *m* (:meth:`~copyseal.anchors.Anchor.prove`). Verifying it
needs no database and no network (except an online check a kind offers): the bundle's
checkpoint (from a verified bundle), the log's vkey and the public material each kind
needs (a TSA's CA, a witness's vkey).

The format (``"format": "copyseal.anchor-proof/v1"``, UTF-8 JSON, hashes in base64)::

    {"format", "bundle_id", "origin",
     "checkpoint": {"size", "root"},                 # the bundle's receipt checkpoint
     "anchored": [{"size", "root", "note",           # an anchored checkpoint, signed
                   "consistency": [b64, ...],        # from "checkpoint" to it
                   "anchors": [{"kind", "name", "proof": b64}, ...]}, ...]}

Each anchor appears under the smallest checkpoint it anchored that covers the bundle.

The proof of another ledger entry (a work's registration, whose receipt starts at
``"checkpoint"``) has ``"bundle_id": null`` and carries the logged statement, so that the
receipt can be checked against the original it names::

    "entry": {"index", "type", "data": b64}          # the entry's leaf data, verbatim
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from copyseal import _json
from copyseal.anchors.base import AnchorContext, AnchorFactory, Proven
from copyseal.anchors.ledger import KIND as LEDGER_KIND
from copyseal.anchors.ledger import verify_stated
from copyseal.anchors.table import ANCHORS
from copyseal.errors import CopysealError, VerificationError
from copyseal.ledger.checkpoint import Checkpoint
from copyseal.ledger.merkle import verify_consistency

__all__ = [
    "FORMAT",
    "AnchoredCheckpoint",
    "LoggedEntry",
    "ProofCheck",
    "ProofEntry",
    "ProofFile",
    "format_proof_file",
    "parse_proof_file",
    "verify_proof_file",
]

FORMAT = "copyseal.anchor-proof/v1"
#: The kind whose proofs count towards ``min_witnesses``.
_WITNESS = "witness"


@dataclass(frozen=True, kw_only=True)
class ProofEntry:
    """One anchor's proof of an anchored checkpoint."""

    kind: str
    name: str
    proof: bytes


@dataclass(frozen=True, kw_only=True)
class AnchoredCheckpoint:
    """An anchored checkpoint: its signed note, the consistency proof to it, its anchors."""

    size: int
    root: bytes
    note: str
    consistency: tuple[bytes, ...]
    anchors: tuple[ProofEntry, ...]


@dataclass(frozen=True, kw_only=True)
class LoggedEntry:
    """The ledger entry a proof file is for, when it is not a bundle: its index, entry
    type and leaf data (verbatim, so its RFC 9162 leaf hash can be recomputed)."""

    index: int
    entry_type: str
    data: bytes


@dataclass(frozen=True, kw_only=True)
class ProofFile:
    """A parsed anchor proof file."""

    bundle_id: str | None
    origin: str
    size: int
    root: bytes
    anchored: tuple[AnchoredCheckpoint, ...]
    entry: LoggedEntry | None = None


@dataclass(frozen=True, kw_only=True)
class ProofCheck:
    """One verification step (``anchor-consistency``, ``anchor:KIND:NAME``, …)."""

    name: str
    ok: bool
    detail: str
    proven: Proven | None = None


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def format_proof_file(proof: ProofFile) -> bytes:
    """The file's bytes (canonical: sorted keys, no spaces, a final newline)."""
    data = {
        "format": FORMAT,
        "bundle_id": proof.bundle_id,
        "origin": proof.origin,
        "checkpoint": {"size": proof.size, "root": _b64(proof.root)},
        "anchored": [
            {
                "size": a.size,
                "root": _b64(a.root),
                "note": a.note,
                "consistency": [_b64(h) for h in a.consistency],
                "anchors": [
                    {"kind": e.kind, "name": e.name, "proof": _b64(e.proof)} for e in a.anchors
                ],
            }
            for a in proof.anchored
        ],
    }
    if proof.entry is not None:  # absent from a bundle's file, whose bytes stay as they were
        data["entry"] = {
            "index": proof.entry.index,
            "type": proof.entry.entry_type,
            "data": _b64(proof.entry.data),
        }
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def _field(data: Any, key: str, kind: type) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise VerificationError(f"anchor proof file: missing {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise VerificationError(f"anchor proof file: {key!r} is not a {kind.__name__}")
    return value


def _unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise VerificationError(f"anchor proof file: {what} is not base64 text")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise VerificationError(f"anchor proof file: {what} is not valid base64") from e
    if _b64(raw) != text:  # the one encoding of these bytes: no slack bits to alter
        raise VerificationError(f"anchor proof file: {what} is not canonical base64")
    return raw


def parse_proof_file(data: bytes) -> ProofFile:
    """Parse an anchor proof file.

    Raises:
        VerificationError: not UTF-8 JSON of this format.
    """
    try:
        doc = _json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise VerificationError(f"anchor proof file: not UTF-8 JSON ({e})") from e
    if _field(doc, "format", str) != FORMAT:
        raise VerificationError(f"anchor proof file: format is not {FORMAT!r}")
    bundle_id = doc.get("bundle_id")
    checkpoint = _field(doc, "checkpoint", dict)
    anchored = []
    for item in _field(doc, "anchored", list):
        entries = tuple(
            ProofEntry(
                kind=_field(e, "kind", str),
                name=_field(e, "name", str),
                proof=_unb64(_field(e, "proof", str), "an anchor's proof"),
            )
            for e in _field(item, "anchors", list)
        )
        anchored.append(
            AnchoredCheckpoint(
                size=_field(item, "size", int),
                root=_unb64(_field(item, "root", str), "an anchored root"),
                note=_field(item, "note", str),
                consistency=tuple(
                    _unb64(h, "a consistency hash") for h in _field(item, "consistency", list)
                ),
                anchors=entries,
            )
        )
    entry = None
    if doc.get("entry") is not None:
        item = _field(doc, "entry", dict)
        entry = LoggedEntry(
            index=_field(item, "index", int),
            entry_type=_field(item, "type", str),
            data=_unb64(_field(item, "data", str), "the entry's data"),
        )
    return ProofFile(
        bundle_id=bundle_id if isinstance(bundle_id, str) else None,
        origin=_field(doc, "origin", str),
        size=_field(checkpoint, "size", int),
        root=_unb64(_field(checkpoint, "root", str), "the checkpoint's root"),
        anchored=tuple(anchored),
        entry=entry,
    )


def _describe(cp: Checkpoint) -> str:
    return f"size {cp.size} root {_b64(cp.root)}"


def _consistency(
    proof: ProofFile, checkpoint: Checkpoint, vkey: str, table: Mapping[str, AnchorFactory]
) -> tuple[ProofCheck, dict[int, Checkpoint]]:
    """The file starts at ``checkpoint`` and each anchored note is signed by the log and
    extends it."""
    stated: dict[int, Checkpoint] = {}
    try:
        if (proof.origin, proof.size, proof.root) != (
            checkpoint.origin,
            checkpoint.size,
            checkpoint.root,
        ):
            raise VerificationError(
                f"the file starts at {proof.origin} {_describe_raw(proof.size, proof.root)},"
                f" the receipt's checkpoint is {checkpoint.origin} {_describe(checkpoint)}"
            )
        if not proof.anchored:
            raise VerificationError("the file holds no anchored checkpoint")
        ledger = table[LEDGER_KIND].from_context(AnchorContext(vkey=vkey))
        for item in proof.anchored:
            new, _ = verify_stated(ledger, item.note)
            if (new.size, new.root) != (item.size, item.root):
                raise VerificationError(
                    f"anchored checkpoint {item.size}: its signed note states {_describe(new)}"
                )
            verify_consistency(
                old_size=checkpoint.size,
                new_size=new.size,
                proof=list(item.consistency),
                old_root=checkpoint.root,
                new_root=new.root,
            )
            stated[new.size] = new
    except VerificationError as e:
        return ProofCheck(name="anchor-consistency", ok=False, detail=str(e)), {}
    sizes = ", ".join(str(s) for s in sorted(stated))
    detail = f"signed checkpoint(s) {sizes} extend the receipt's checkpoint {checkpoint.size}"
    return ProofCheck(name="anchor-consistency", ok=True, detail=detail), stated


def _describe_raw(size: int, root: bytes) -> str:
    return f"size {size} root {_b64(root)}"


def _online_check(
    anchor: Any, kind: str, options: Mapping[str, Any]
) -> Callable[[bytes, Checkpoint], Any] | None:
    """The online check a kind offers: an anchor's ``check_online(proof, checkpoint)``
    method, or the EVM kind's ``check_online(proof, rpc_url)`` with ``options["rpc_url"]``."""
    method = getattr(anchor, "check_online", None)
    if callable(method):
        return method  # type: ignore[no-any-return]
    rpc_url = options.get("rpc_url")
    if kind == "evm" and isinstance(rpc_url, str):
        from copyseal.anchors.evm import check_online

        return lambda proof, _checkpoint: check_online(proof, rpc_url)
    return None


def _prove(
    entry: ProofEntry,
    checkpoint: Checkpoint,
    *,
    vkey: str,
    candidates: Sequence[Mapping[str, Any]],
    table: Mapping[str, AnchorFactory],
    online: bool,
) -> tuple[ProofCheck, list[ProofCheck], int | None]:
    """The entry's check (the first set of options it verifies with), any online check,
    and which candidate proved it."""
    name = f"anchor:{entry.kind}:{entry.name}"
    errors: list[str] = []
    for i, options in enumerate(candidates or ({},)):
        try:
            context = AnchorContext(vkey=vkey, name=entry.name, options=dict(options))
            factory = table.get(entry.kind)
            if factory is None:
                known = ", ".join(sorted(table))
                raise VerificationError(f"unknown anchor kind {entry.kind!r} (known: {known})")
            anchor = factory.from_context(context)
            proven = anchor.verify(entry.proof, checkpoint)
            if (proven.kind, proven.name) != (entry.kind, entry.name):
                raise VerificationError(
                    f"the proof is of anchor {proven.kind}:{proven.name}, not the one named"
                )
        except CopysealError as e:
            if str(e) not in errors:
                errors.append(str(e))
            continue
        extra: list[ProofCheck] = []
        check_online = _online_check(anchor, entry.kind, options)
        if online and check_online is not None:
            try:
                said = check_online(entry.proof, checkpoint)
                text = said.detail if isinstance(said, Proven) else str(said)
                extra.append(ProofCheck(name=f"{name}:online", ok=True, detail=text))
            except CopysealError as e:
                extra.append(ProofCheck(name=f"{name}:online", ok=False, detail=str(e)))
        return ProofCheck(name=name, ok=True, detail=proven.detail, proven=proven), extra, i
    return ProofCheck(name=name, ok=False, detail="; ".join(errors)), [], None


def verify_proof_file(
    data: bytes,
    *,
    checkpoint: Checkpoint,
    vkey: str,
    options: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    min_witnesses: int = 0,
    online: bool = False,
    bundle_id: str | None = None,
    table: Mapping[str, AnchorFactory] = ANCHORS,
) -> list[ProofCheck]:
    """Verify an anchor proof file against a bundle's (verified) receipt checkpoint.

    Args:
        data: The file's bytes.
        checkpoint: The bundle's receipt checkpoint, as its verification established it.
        vkey: The log's verifier key (the one the bundle was verified with).
        options: Per kind, the sets of public material to try, in order (each the
            ``options`` of an :class:`~copyseal.anchors.AnchorContext`): e.g. one
            ``{"ca_file": …}`` per TSA CA, one ``{"vkey": …}`` per trusted witness. An
            entry verifies with the first set that proves it.
        min_witnesses: Require cosignatures of at least this many of the given witness
            keys (an ``anchor-witnesses`` check).
        online: Also run the online checks kinds offer (``check_online``).
        bundle_id: The verified bundle's id, which the file must name.
        table: The kinds (default :data:`~copyseal.anchors.ANCHORS`).

    Returns:
        ``anchor-consistency``, then one ``anchor:KIND:NAME`` per entry (and
        ``anchor:KIND:NAME:online``), then ``anchor-witnesses`` when required. Never
        raises for a bad file: a failed check says why.
    """
    try:
        proof = parse_proof_file(data)
    except VerificationError as e:
        return [ProofCheck(name="anchor-consistency", ok=False, detail=str(e))]
    first, stated = _consistency(proof, checkpoint, vkey, table)
    if first.ok and bundle_id is not None and proof.bundle_id != bundle_id:
        first = ProofCheck(
            name="anchor-consistency",
            ok=False,
            detail=f"the file is the anchor proof of bundle {proof.bundle_id}, not {bundle_id}",
        )
    checks = [first]
    chosen = options or {}
    witnesses: set[int] = set()
    for item in proof.anchored:
        anchored = stated.get(item.size)
        for entry in item.anchors:
            if anchored is None:
                checks.append(
                    ProofCheck(
                        name=f"anchor:{entry.kind}:{entry.name}",
                        ok=False,
                        detail=f"checkpoint {item.size} is not proven (see anchor-consistency)",
                    )
                )
                continue
            check, extra, used = _prove(
                entry,
                anchored,
                vkey=vkey,
                candidates=chosen.get(entry.kind, ()),
                table=table,
                online=online,
            )
            checks.append(check)
            checks.extend(extra)
            if entry.kind == _WITNESS and used is not None:
                witnesses.add(used)
    if min_witnesses > 0:
        ok = len(witnesses) >= min_witnesses
        checks.append(
            ProofCheck(
                name="anchor-witnesses",
                ok=ok,
                detail=f"{len(witnesses)} of the given witness keys cosigned"
                f" (at least {min_witnesses} required)",
            )
        )
    return checks
