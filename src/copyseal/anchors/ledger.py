"""The ledger's own anchor: a checkpoint signed with the log's key (C2SP tlog-checkpoint).

Anchoring is signing the checkpoint's note text with the log's Ed25519 key (C2SP
signed-note), which the ledger store does for every checkpoint it issues; the signature is
deterministic (RFC 8032 §5.1.6), so the note made here is byte for byte the note the store
keeps. The proof is that signed note; verifying it is opening the note with the log's
vkey and comparing the checkpoint it states with the one given.

This anchor proves who vouches for a checkpoint (the log's key), not when: whoever holds
the key can sign any checkpoint, which is why external anchors are kinds of their own.
It is the anchor every receipt (C2SP tlog-proof) and every bundle carries.
"""

from __future__ import annotations

import base64

from copyseal.anchors.base import (
    Anchor,
    AnchorContext,
    AnchorError,
    AnchorRecord,
    AnchorVerificationError,
    Proven,
)
from copyseal.errors import VerificationError
from copyseal.ledger.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint
from copyseal.ledger.merkle import EMPTY_ROOT
from copyseal.ledger.note import NoteSigner, NoteVerifier, parse_note, parse_vkey

__all__ = ["KIND", "LedgerAnchor", "stated_checkpoint", "verify_stated"]

#: This kind's key in :data:`copyseal.anchors.ANCHORS`.
KIND = "ledger"


def stated_checkpoint(note: str | bytes) -> Checkpoint:
    """The checkpoint a signed note states, parsed without checking any signature: what a
    receipt claims, which :meth:`LedgerAnchor.verify` then proves or refutes.

    Raises:
        VerificationError: the note or its checkpoint text is malformed.
    """
    return parse_checkpoint(parse_note(note).text)


#: Stands for the checkpoint of a note whose text does not parse (see :func:`verify_stated`).
_UNPARSED = Checkpoint(origin="unparsed", size=0, root=EMPTY_ROOT)


def verify_stated(anchor: Anchor, note: str) -> tuple[Checkpoint, Proven]:
    """Prove with ``anchor`` the checkpoint a signed note states (a receipt's checkpoint).

    The anchor judges the note before its text is parsed, so a note tampered with into a
    malformed text fails as the anchor sees it (a bad signature): the order of Go's
    ``note.Open`` before ``tlog.ParseCheckpoint``.

    Returns:
        The stated checkpoint (extension lines included) and what the anchor proves.

    Raises:
        VerificationError: the note is malformed or does not prove what it states.
    """
    proof = note.encode("utf-8")
    try:
        stated = stated_checkpoint(note)
    except VerificationError:
        anchor.verify(proof, _UNPARSED)  # raises the anchor's own verdict, if it has one
        raise
    return stated, anchor.verify(proof, stated)


def _describe(checkpoint: Checkpoint) -> str:
    root = base64.b64encode(checkpoint.root).decode("ascii")
    return f"{checkpoint.origin} size {checkpoint.size} root {root}"


class LedgerAnchor:
    """The log's own signature on its checkpoints (kind ``ledger``).

    Args:
        verifier: the log's public key, trusted from elsewhere.
        origin: the origin checkpoints must carry (default: the key's name).
        signer: the log's signer; without it the anchor can only verify.
    """

    def __init__(
        self,
        *,
        verifier: NoteVerifier,
        origin: str | None = None,
        signer: NoteSigner | None = None,
    ) -> None:
        if signer is not None and signer.verifier != verifier:
            raise AnchorError("the ledger anchor's signer and verifier key differ")
        self._verifier = verifier
        self._origin = verifier.name if origin is None else origin
        self._signer = signer

    @classmethod
    def from_context(cls, context: AnchorContext) -> LedgerAnchor:
        """Built from the log's vkey (and signer, to anchor).

        Raises:
            VerificationError: the vkey is malformed.
            AnchorError: the signer holds another key than the vkey's.
        """
        return cls(verifier=parse_vkey(context.vkey), origin=context.origin, signer=context.signer)

    @property
    def kind(self) -> str:
        return KIND

    @property
    def name(self) -> str:
        return self._verifier.name

    def anchor(self, checkpoint: Checkpoint) -> AnchorRecord:
        """Sign ``checkpoint`` with the log's key.

        Raises:
            AnchorError: no signer, or the checkpoint is another log's.
        """
        if self._signer is None:
            raise AnchorError(f"the ledger anchor of {self.name} has only its public key")
        if checkpoint.origin != self._origin:
            raise AnchorError(
                f"checkpoint of log {checkpoint.origin!r} given to the anchor of {self._origin!r}"
            )
        note = checkpoint.sign(self._signer)
        return AnchorRecord(
            kind=KIND, name=self.name, checkpoint=checkpoint, payload=note.encode("utf-8")
        )

    def prove(self, record: AnchorRecord) -> bytes:
        """The signed checkpoint note itself (it stands alone with the log's vkey).

        Raises:
            AnchorError: the record is another anchor's.
        """
        if record.kind != KIND or record.name != self.name:
            raise AnchorError(
                f"a {record.kind} record of {record.name!r} given to the ledger anchor"
                f" of {self.name!r}"
            )
        return record.payload

    def verify(self, proof: bytes, checkpoint: Checkpoint) -> Proven:
        """Open the signed note with the log's key and check it states ``checkpoint``.

        Raises:
            AnchorVerificationError: malformed note, no valid signature by the log's key,
                another log's origin, or another checkpoint than ``checkpoint``.
        """
        try:
            signed = open_checkpoint(proof, self._verifier, origin=self._origin)
        except VerificationError as e:
            raise AnchorVerificationError(str(e)) from e
        if signed != checkpoint:
            raise AnchorVerificationError(
                f"the signed checkpoint is {_describe(signed)}, not {_describe(checkpoint)}"
            )
        return Proven(
            kind=KIND,
            name=self.name,
            origin=signed.origin,
            size=signed.size,
            root=signed.root,
            detail=f"{signed.origin} size {signed.size}, signed",
        )
