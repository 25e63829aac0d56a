"""A C2SP ``tlog-witness``: cosigns a log's checkpoints only if they extend what it saw.

For each log it knows (an origin and the log's note verifier keys) the witness keeps the
latest checkpoint it cosigned (:class:`~copyseal.witness.store.WitnessStore`). A submission
(:func:`~copyseal.witness.protocol.parse_add_checkpoint`) is checked in the order
tlog-witness gives: a known origin (else 404), a valid signature of a trusted key (else
403), ``old`` not beyond the new size (else 400), ``old`` equal to the size the witness
last cosigned (else 409 with that size), then the RFC 9162 consistency proof from the
witness's (size, root) to the new one (else 422). A checkpoint of the size the witness
already cosigned with another root, or one no proof links to it, is a *split view*: it is
refused (422) with a message that says so, and kept as evidence.

The check of ``old`` and the update of the stored head happen in one transaction.
"""

from __future__ import annotations

import base64
import logging
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from copyseal.errors import AnchorError, VerificationError
from copyseal.keys import create_signing_key, load_signing_key
from copyseal.ledger.checkpoint import Checkpoint, parse_checkpoint
from copyseal.ledger.merkle import EMPTY_ROOT, verify_consistency
from copyseal.ledger.note import Note, NoteVerifier, open_note, parse_note, parse_vkey
from copyseal.witness.cosignature import Cosigner
from copyseal.witness.protocol import AddCheckpoint, parse_add_checkpoint
from copyseal.witness.store import Head, Refusal, WitnessStore

__all__ = ["KEY_FILE", "STATE_FILE", "Refused", "Witness", "open_witness", "parse_log_option"]

logger = logging.getLogger(__name__)


class Refused(AnchorError):
    """The witness refuses a submission; ``status`` is the HTTP status tlog-witness assigns.

    ``size`` is set for ``409 Conflict``: the size the witness last cosigned.
    """

    def __init__(self, status: int, message: str, *, size: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.size = size


@dataclass(frozen=True, kw_only=True)
class _Submission:
    request: AddCheckpoint
    checkpoint: Checkpoint
    note: Note  # the note with only the signatures the witness verified


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


class Witness:
    """The witness: its cosigning key, the logs it knows, and its state.

    Args:
        cosigner: the witness's key (and name).
        logs: per origin, the log keys the witness trusts for it.
        store: the durable state.
        clock: POSIX seconds for cosignature times (default: :func:`time.time`).
    """

    def __init__(
        self,
        *,
        cosigner: Cosigner,
        logs: Mapping[str, Sequence[NoteVerifier]],
        store: WitnessStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cosigner = cosigner
        self._logs = {origin: tuple(keys) for origin, keys in logs.items()}
        self.store = store
        self._clock = clock

    @property
    def origins(self) -> tuple[str, ...]:
        """The origins of the logs the witness knows."""
        return tuple(sorted(self._logs))

    def add_checkpoint(self, body: bytes) -> str:
        """Handle one ``add-checkpoint`` request body; return the cosignature line(s).

        Raises:
            Refused: the request is refused, with the HTTP status tlog-witness assigns.
        """
        sub = self._check(body)
        cp = sub.checkpoint
        try:
            head = self.store.advance(cp.origin, lambda head: self._advance(sub, head))
        except Refused as e:
            if e.status == 422:
                refusal = Refusal(origin=cp.origin, size=cp.size, root=cp.root, reason=str(e))
                self.store.refused(refusal, body)
                logger.warning("witness refused %s size %d: %s", cp.origin, cp.size, e)
            raise
        logger.info("witness cosigned %s size %d", cp.origin, cp.size)
        return head.note[len(sub.note.format()) :]

    def _check(self, body: bytes) -> _Submission:
        try:
            request = parse_add_checkpoint(body)
            note = parse_note(request.note)
            checkpoint = parse_checkpoint(note.text)
        except (ValueError, VerificationError) as e:
            raise Refused(400, f"malformed request: {e}") from e
        keys = self._logs.get(checkpoint.origin)
        if keys is None:
            raise Refused(404, f"unknown log {checkpoint.origin!r}")
        try:
            opened = open_note(request.note, keys)
        except VerificationError as e:
            raise Refused(403, f"checkpoint of {checkpoint.origin!r} not signed: {e}") from e
        if request.old > checkpoint.size:
            raise Refused(
                400, f"old size {request.old} is beyond the checkpoint's size {checkpoint.size}"
            )
        if checkpoint.size == 0 and checkpoint.root != EMPTY_ROOT:
            raise Refused(422, "a checkpoint of size 0 must carry the empty tree's root")
        if request.old == 0 and request.proof:
            raise Refused(422, "a consistency proof from size 0 must be empty")
        trusted = Note(text=opened.text, signatures=opened.signatures)
        return _Submission(request=request, checkpoint=checkpoint, note=trusted)

    def _advance(self, sub: _Submission, head: Head | None) -> Head:
        cp, old = sub.checkpoint, sub.request.old
        seen = 0 if head is None else head.size
        if old != seen:
            raise Refused(409, f"the witness last cosigned size {seen}, not {old}", size=seen)
        if head is not None and head.size == cp.size and head.root != cp.root:
            raise Refused(
                422,
                f"split view: the witness cosigned size {cp.size} of {cp.origin!r} with root"
                f" {_b64(head.root)}, this checkpoint has root {_b64(cp.root)}",
            )
        if head is not None:
            try:
                verify_consistency(
                    old_size=head.size,
                    new_size=cp.size,
                    proof=sub.request.proof,
                    old_root=head.root,
                    new_root=cp.root,
                )
            except VerificationError as e:
                raise Refused(
                    422,
                    f"inconsistent with size {head.size} the witness cosigned (a split view"
                    f" or a bad proof): {e}",
                ) from e
        timestamp = max(1, int(self._clock()))
        cosignature = self.cosigner.cosign(sub.note.text, timestamp=timestamp)
        note = sub.note.format() + cosignature.line()
        return Head(origin=cp.origin, size=cp.size, root=cp.root, note=note)

    def latest(self, origin: str) -> str | None:
        """The latest cosigned checkpoint note of ``origin`` (for monitors), if any."""
        head = self.store.head(origin)
        return None if head is None else head.note


#: The witness's key file and state file inside its state folder.
KEY_FILE = "witness.key"
STATE_FILE = "witness.sqlite3"


def open_witness(
    state_dir: Path,
    *,
    logs: Mapping[str, Sequence[NoteVerifier]],
    name: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Witness:
    """The witness kept in ``state_dir``: its key (created with mode 0600 on first start)
    and its state. ``name`` is the witness's key name, stored on first start (default:
    ``copyseal-witness/<host name>``); a different name later is refused, since verifiers
    hold the key ID it is part of.

    Raises:
        AnchorError: another name than the stored one, or unreadable state.
        WorkspaceError: the key file is unreadable or readable by others.
    """
    key_path = state_dir / KEY_FILE
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = load_signing_key(key_path) if key_path.exists() else create_signing_key(key_path)
    store = WitnessStore(state_dir / STATE_FILE)
    default = name or f"copyseal-witness/{socket.gethostname() or 'localhost'}"
    stored = store.name(default)
    if name is not None and stored != name:
        raise AnchorError(f"{state_dir}: this witness is named {stored!r}, not {name!r}")
    assert stored is not None
    return Witness(
        cosigner=Cosigner(name=stored, signing_key=key), logs=logs, store=store, clock=clock
    )


def parse_log_option(text: str) -> tuple[str, NoteVerifier]:
    """``ORIGIN=VKEY`` (or a bare ``VKEY``: the origin is its key name) → origin and key.

    Raises:
        VerificationError: the vkey is malformed.
    """
    origin, sep, vkey = text.partition("=")
    if not sep or "+" in origin:  # a bare vkey (whose base64 may hold '=')
        verifier = parse_vkey(text)
        return verifier.name, verifier
    return origin, parse_vkey(vkey)
