"""Witness anchors: a checkpoint cosigned by an independent witness (C2SP ``tlog-witness``).

Anchoring submits the log's signed checkpoint with an RFC 9162 consistency proof from the
size the witness last cosigned (``POST <url>/add-checkpoint``); the witness cosigns only
if the new checkpoint extends what it saw, so two witnesses that cosigned a log cannot
have been shown two different histories of it (a split view). The proof is the checkpoint
note with the log's signature and the witness's ``cosignature/v1`` line; it verifies
offline with the log's vkey and the witness's cosignature vkey.

A cosignature proves that the witness saw this checkpoint, as the largest consistent one
of the log, no later than the time it carries (the witness's own clock).

Configuration (``anchors.witnesses.NAME``, read from ``AnchorContext.options``):

- ``url``: the witness's URL prefix (needed to anchor);
- ``vkey``: the witness's cosignature vkey, ``name+keyid+base64(0x04 || key)`` (needed to
  anchor and to verify);
- ``old_size``: the size this witness last cosigned for the log (default 0), which the
  caller keeps; the anchor then remembers the sizes it gets cosigned (:attr:`last_size`);
- ``consistency``: a callable ``(old, new) -> list[bytes]`` giving the log's consistency
  proof between two sizes (``Ledger.consistency_proof``), needed whenever ``old`` is not 0;
- ``timeout``: seconds per request (default 10).

The witness is the authority on what it cosigned; the size the anchor sends is a hint.
On ``409 Conflict`` the anchor retries once from the size the witness says it cosigned;
when its hint is beyond the checkpoint it asks from size 0 to learn the witness's size
(a witness can only cosign a checkpoint at least as large as the last one it cosigned).
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from copyseal.anchors.base import (
    AnchorContext,
    AnchorError,
    AnchorRecord,
    AnchorVerificationError,
    Proven,
)
from copyseal.anchors.ledger import stated_checkpoint
from copyseal.errors import CopysealError, VerificationError
from copyseal.ledger.checkpoint import Checkpoint, open_checkpoint
from copyseal.ledger.note import NoteSigner, NoteVerifier, Signature, parse_note, parse_vkey
from copyseal.times import iso
from copyseal.witness.cosignature import (
    Cosignature,
    CosignatureVerifier,
    open_cosignatures,
    parse_cosignature_vkey,
    verify_witnesses,
)
from copyseal.witness.protocol import (
    ADD_CHECKPOINT,
    SIZE_CONTENT_TYPE,
    AddCheckpoint,
    parse_size,
)

__all__ = ["KIND", "WitnessAnchor", "cosignature_lines", "verify_witnesses"]

#: This kind's key in :data:`copyseal.anchors.ANCHORS`.
KIND = "witness"
#: Largest witness response read (cosignature lines are short).
_MAX_RESPONSE = 64 * 1024

Consistency = Callable[[int, int], Sequence[bytes]]


class _Conflict(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class WitnessAnchor:
    """Cosignatures of one witness on the log's checkpoints (kind ``witness``).

    Args:
        log: the log's note verifier key.
        witness: the witness's cosignature verifier key (None: the anchor can do nothing
            but say so; a context without options builds such an anchor).
        name: the configured name of this witness (default: the witness key's name).
        origin: the origin checkpoints must carry (default: the log key's name).
        signer: the log's signer; needed to anchor.
        url: the witness's URL prefix; needed to anchor.
        consistency: the log's consistency proofs, ``(old, new) -> hashes``.
        old_size: the size the witness last cosigned, as far as the caller knows.
        timeout: seconds per HTTP request.
    """

    def __init__(
        self,
        *,
        log: NoteVerifier,
        witness: CosignatureVerifier | None,
        name: str | None = None,
        origin: str | None = None,
        signer: NoteSigner | None = None,
        url: str | None = None,
        consistency: Consistency | None = None,
        old_size: int = 0,
        timeout: float = 10.0,
    ) -> None:
        if signer is not None and signer.verifier != log:
            raise AnchorError("the witness anchor's signer and log key differ")
        self._log = log
        self._witness = witness
        self._name = name or (witness.name if witness is not None else KIND)
        self._origin = log.name if origin is None else origin
        self._signer = signer
        self._url = url
        self._consistency = consistency
        self.last_size = old_size
        self._timeout = timeout

    @classmethod
    def from_context(cls, context: AnchorContext) -> WitnessAnchor:
        """Built from the log's vkey and ``context.options`` (see the module docs).

        Raises:
            VerificationError: a malformed vkey.
            AnchorError: options of the wrong type.
        """
        options: dict[str, Any] = dict(context.options)
        vkey = options.get("vkey")
        if vkey is not None and not isinstance(vkey, str):
            raise AnchorError("options.vkey of a witness anchor must be a witness vkey")
        url, consistency = options.get("url"), options.get("consistency")
        old_size, timeout = options.get("old_size", 0), options.get("timeout", 10.0)
        if url is not None and not isinstance(url, str):
            raise AnchorError("options.url of a witness anchor must be a URL")
        if consistency is not None and not callable(consistency):
            raise AnchorError("options.consistency of a witness anchor must be callable")
        if not isinstance(old_size, int) or old_size < 0:
            raise AnchorError("options.old_size of a witness anchor must be a size")
        if not isinstance(timeout, int | float) or timeout <= 0:
            raise AnchorError("options.timeout of a witness anchor must be positive seconds")
        return cls(
            log=parse_vkey(context.vkey),
            witness=None if vkey is None else parse_cosignature_vkey(vkey),
            name=context.name,
            origin=context.origin,
            signer=context.signer,
            url=str(url) if url is not None else None,
            consistency=consistency,
            old_size=old_size,
            timeout=float(timeout),
        )

    @property
    def kind(self) -> str:
        return KIND

    @property
    def name(self) -> str:
        return self._name

    @property
    def witness_vkey(self) -> str | None:
        """The witness's cosignature vkey (None: not configured)."""
        return None if self._witness is None else self._witness.vkey

    def anchor(self, checkpoint: Checkpoint) -> AnchorRecord:
        """Have the witness cosign ``checkpoint`` (signed here with the log's key).

        Raises:
            AnchorError: no signer or URL, another log's checkpoint, a checkpoint older
                than the witness's, no consistency proofs to send, or the witness refused
                (its reason, e.g. a split view, is in the message).
        """
        if self._signer is None or self._url is None or self._witness is None:
            raise AnchorError(
                f"the witness anchor {self.name} needs the log's signer, the witness's url"
                " and vkey to anchor"
            )
        if checkpoint.origin != self._origin:
            raise AnchorError(
                f"checkpoint of log {checkpoint.origin!r} given to the anchor of {self._origin!r}"
            )
        note = checkpoint.sign(self._signer)
        hint = self.last_size if self.last_size <= checkpoint.size else 0
        try:
            lines = self._submit(note, checkpoint, hint)
        except _Conflict as conflict:
            lines = self._retry(note, checkpoint, conflict.size)
        cosigned = self._accept(note, lines)
        self.last_size = checkpoint.size
        return AnchorRecord(
            kind=KIND,
            name=self.name,
            checkpoint=checkpoint,
            payload=cosigned.encode("utf-8"),
            anchored_at=self._cosignature(cosigned).time,
        )

    def _retry(self, note: str, checkpoint: Checkpoint, size: int) -> str:
        try:
            return self._submit(note, checkpoint, size)
        except _Conflict as again:
            raise AnchorError(
                f"witness {self.name} keeps changing its size ({size}, then {again.size})"
            ) from again

    def _submit(self, note: str, checkpoint: Checkpoint, old: int) -> str:
        if old > checkpoint.size:
            raise AnchorError(
                f"witness {self.name} already cosigned size {old} of {checkpoint.origin},"
                f" newer than {checkpoint.size}"
            )
        proof: Sequence[bytes] = ()
        if 0 < old < checkpoint.size:
            if self._consistency is None:
                raise AnchorError(
                    f"witness {self.name} needs a consistency proof from size {old},"
                    " and the anchor has no source of proofs"
                )
            try:
                proof = self._consistency(old, checkpoint.size)
            except CopysealError as e:  # e.g. the log has no size the witness names
                raise AnchorError(
                    f"no consistency proof from size {old} for witness {self.name}: {e}"
                ) from e
        body = AddCheckpoint(old=old, proof=tuple(proof), note=note).format()
        assert self._url is not None
        url = self._url.rstrip("/") + "/" + ADD_CHECKPOINT
        request = urllib.request.Request(url, data=body, method="POST")
        request.add_header("Content-Type", "text/plain; charset=utf-8")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return self._read(response)
        except urllib.error.HTTPError as e:
            reply = self._read(e)
            if e.code == 409 and SIZE_CONTENT_TYPE in (e.headers.get("Content-Type") or ""):
                try:
                    raise _Conflict(parse_size(reply.encode("utf-8"))) from e
                except ValueError as bad:
                    raise AnchorError(f"witness {self.name}: malformed 409 reply") from bad
            reason = reply.strip().splitlines()[0] if reply.strip() else e.reason
            raise AnchorError(f"witness {self.name} refused ({e.code}): {reason}") from e
        except (OSError, ValueError) as e:  # URLError, timeouts, refused connections
            raise AnchorError(f"witness {self.name} unreachable at {self._url}: {e}") from e

    def read_back(self) -> Checkpoint:
        """The newest checkpoint of this log that the witness cosigned, as the witness
        serves it now (``GET /<hex SHA-256 of the origin>/checkpoint``), with the log's
        signature and the witness's cosignature checked: what ``ledger audit`` holds the
        log against, beside the workspace's own records.

        Raises:
            AnchorError: no URL or vkey, the witness is down or has no checkpoint of it.
            VerificationError: what it serves is not signed by the log and the witness.
        """
        if self._url is None or self._witness is None:
            raise AnchorError(f"the witness anchor {self.name} has no url or vkey")
        digest = hashlib.sha256(self._origin.encode("utf-8")).hexdigest()
        url = f"{self._url.rstrip('/')}/{digest}/checkpoint"
        try:
            with urllib.request.urlopen(url, timeout=self._timeout) as response:
                note = self._read(response)
        except (urllib.error.URLError, OSError) as e:
            raise AnchorError(f"witness {self.name} ({url}): {e}") from e
        return self.verify(note.encode("utf-8"), stated_checkpoint(note)).checkpoint

    def _read(self, response: Any) -> str:
        raw = response.read(_MAX_RESPONSE + 1)
        if len(raw) > _MAX_RESPONSE:
            raise AnchorError(f"witness {self.name}: reply too large")
        try:
            return str(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise AnchorError(f"witness {self.name}: reply is not UTF-8") from e

    def _accept(self, note: str, lines: str) -> str:
        """``note`` with the witness's valid cosignature line(s) from ``lines`` added."""
        assert self._witness is not None
        try:
            replied = parse_note(note + lines)
            ours = [s for s in replied.signatures if self._witness.matches(s)]
            for sig in ours:
                self._witness.verify(replied.text, sig)
        except VerificationError as e:
            raise AnchorError(f"witness {self.name} sent a bad cosignature: {e}") from e
        if not ours:
            raise AnchorError(f"witness {self.name} sent no cosignature of its key")
        return note + "".join(s.line() for s in dict.fromkeys(ours))

    def _cosignature(self, proof: bytes | str) -> Cosignature:
        if self._witness is None:
            raise VerificationError(
                f"no key of witness {self.name} to check its cosignature with (options.vkey)"
            )
        found = open_cosignatures(proof, [self._witness])
        if not found:
            raise VerificationError(f"checkpoint not cosigned by witness {self.name}")
        return found[0]

    def prove(self, record: AnchorRecord) -> bytes:
        """The cosigned checkpoint note itself (it stands alone with both vkeys).

        Raises:
            AnchorError: the record is another anchor's.
        """
        if record.kind != KIND or record.name != self.name:
            raise AnchorError(
                f"a {record.kind} record of {record.name!r} given to the witness anchor"
                f" of {self.name!r}"
            )
        return record.payload

    def verify(self, proof: bytes, checkpoint: Checkpoint) -> Proven:
        """Check the log's signature and the witness's cosignature on ``checkpoint``.

        Raises:
            AnchorVerificationError: malformed note, a bad or missing signature of the log
                or the witness, or another checkpoint than ``checkpoint``.
        """
        try:
            signed = open_checkpoint(proof, self._log, origin=self._origin)
            cosignature = self._cosignature(proof)
        except VerificationError as e:
            raise AnchorVerificationError(str(e)) from e
        if signed != checkpoint:
            raise AnchorVerificationError(
                f"the cosigned checkpoint is {signed.origin} size {signed.size},"
                f" not the one given ({checkpoint.origin} size {checkpoint.size})"
                if (signed.origin, signed.size) != (checkpoint.origin, checkpoint.size)
                else f"the cosigned checkpoint of size {signed.size} has another root"
            )
        return Proven(
            kind=KIND,
            name=self.name,
            origin=signed.origin,
            size=signed.size,
            root=signed.root,
            time=cosignature.time,
            detail=f"cosigned by witness {cosignature.name} at {iso(cosignature.time)}",
        )


def cosignature_lines(proof: bytes | str, vkey: str) -> str:
    """The valid cosignature line(s) of the witness ``vkey`` on a cosigned note (what
    ``anchors run --json`` reports as ``cosignature``).

    Raises:
        VerificationError: malformed note or vkey, or a bad cosignature of that witness.
    """
    witness = parse_cosignature_vkey(vkey)
    parsed = parse_note(proof)
    lines: list[Signature] = []
    for sig in parsed.signatures:
        if witness.matches(sig):
            witness.verify(parsed.text, sig)
            lines.append(sig)
    return "".join(s.line() for s in lines)
