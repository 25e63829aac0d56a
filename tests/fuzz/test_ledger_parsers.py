"""Fuzzing the ledger's parsers and offline verifiers: only ``VerificationError`` comes out.

The pure ledger modules document one error for every malformed or forged input
(``note``, ``checkpoint``, ``proof``: "raise nothing but VerificationError"; ``tiles``'
entry bundles the same), and ``copyseal.verify`` (the receipt file reader a stranger runs)
does too. Genuine receipts, checkpoint notes and consistency proofs from a real workspace
are mutated; arbitrary text and bytes are tried as well. A mutation may leave the
artefact valid (a flipped bit in unauthenticated ``extra`` data, say): then it must still
verify the same leaf.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from copyseal.errors import VerificationError
from copyseal.ledger.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint
from copyseal.ledger.note import open_note, parse_note, parse_vkey
from copyseal.ledger.proof import (
    Receipt,
    parse_receipt,
    verify_checkpoint_consistency,
    verify_receipt,
)
from copyseal.ledger.tiles import decode_entry_bundle, encode_entry_bundle
from copyseal.verify import verify_receipt_file

from . import mutate
from .budget import fuzz
from .conftest import Material

_ANY = st.characters(codec=None, exclude_categories=())
_texts = st.one_of(st.text(_ANY, max_size=400), st.binary(max_size=400))


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")  # a str that may hold lone surrogates


def test_genuine_material_verifies(material: Material) -> None:
    checkpoint = verify_receipt(material.receipt, material.manifest, material.vkey)
    assert checkpoint.size == material.bundle.checkpoint_size
    old, new = verify_checkpoint_consistency(
        material.old_note, material.new_note, material.consistency, material.vkey
    )
    assert old.size < new.size


@fuzz(200)
@given(ops=mutate.edits, as_text=st.booleans())
def test_mutated_receipts_verify_or_raise_verification_error(
    material: Material, ops: list[tuple[str, int, object]], as_text: bool
) -> None:
    blob = mutate.apply(material.receipt, ops)
    receipt: str | bytes = _text(blob) if as_text else blob
    try:
        checkpoint = verify_receipt(receipt, material.manifest, material.vkey)
    except VerificationError:
        return
    # Whatever still verifies proves the same entry in the same log.
    assert checkpoint.origin == material.origin
    assert parse_receipt(receipt).index == material.bundle.ledger_index


@fuzz(150)
@given(ops=mutate.edits, which=st.sampled_from(["old", "new"]), as_text=st.booleans())
def test_mutated_checkpoint_notes_raise_verification_error(
    material: Material, ops: list[tuple[str, int, object]], which: str, as_text: bool
) -> None:
    old, new = material.old_note.encode(), material.new_note.encode()
    blob = mutate.apply(old if which == "old" else new, ops)
    note: str | bytes = _text(blob) if as_text else blob
    verifier = parse_vkey(material.vkey)
    try:
        checkpoint = open_checkpoint(note, verifier)
    except VerificationError:
        return
    assert checkpoint.origin == material.origin


@fuzz(150)
@given(
    ops=mutate.edits,
    proof=st.lists(st.binary(min_size=0, max_size=40), max_size=6),
    swap=st.booleans(),
)
def test_consistency_with_mutated_inputs_raises_verification_error(
    material: Material, ops: list[tuple[str, int, object]], proof: list[bytes], swap: bool
) -> None:
    new = _text(mutate.apply(material.new_note.encode(), ops))
    old = material.old_note
    if swap:
        old, new = new, old
    try:
        verify_checkpoint_consistency(old, new, proof or material.consistency, material.vkey)
    except VerificationError:
        return
    assert not proof  # only the genuine proof can pass


@fuzz(200)
@given(text=_texts)
def test_arbitrary_text_raises_verification_error_from_every_parser(
    material: Material, text: str | bytes
) -> None:
    s = text if isinstance(text, str) else _text(text)
    for parse in (parse_note, parse_receipt):
        with contextlib.suppress(VerificationError):
            parse(text)
    for parse_str in (parse_checkpoint, parse_vkey):
        with contextlib.suppress(VerificationError):
            parse_str(s)
    try:
        open_note(text, [parse_vkey(material.vkey)])
    except VerificationError:
        pass
    else:
        pytest.fail("an arbitrary text opened as a signed note")


@fuzz(150)
@given(ops=mutate.edits)
# Found by fuzzing: a name holding invalid UTF-8 (a lone surrogate once decoded, as argv
# gives it) made parse_vkey raise UnicodeEncodeError.
@example(ops=[("insert", 1, b"\xff")])
@example(ops=[("insert", 0, b"\xed\xa0\x80")])
def test_mutated_vkeys_raise_verification_error(
    material: Material, ops: list[tuple[str, int, object]]
) -> None:
    vkey = _text(mutate.apply(material.vkey.encode(), ops))
    try:
        verifier = parse_vkey(vkey)
    except VerificationError:
        return
    assert verifier.vkey == vkey.strip()


@fuzz(150)
@given(
    origin=st.text(_ANY, min_size=1, max_size=40).filter(lambda s: "\n" not in s),
    size=st.integers(0, (1 << 63) - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(
        st.text(_ANY, min_size=1, max_size=20).filter(lambda s: "\n" not in s), max_size=3
    ),
)
def test_checkpoints_round_trip(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    checkpoint = Checkpoint(origin=origin, size=size, root=root, extensions=tuple(extensions))
    assert parse_checkpoint(checkpoint.format()) == checkpoint


@fuzz(150)
@given(
    index=st.integers(0, (1 << 63) - 1),
    proof=st.lists(st.binary(min_size=32, max_size=32), max_size=8),
    extra=st.none() | st.binary(max_size=64),
)
def test_receipts_round_trip(
    material: Material, index: int, proof: list[bytes], extra: bytes | None
) -> None:
    receipt = Receipt(
        index=index, proof=tuple(proof), checkpoint_note=material.old_note, extra=extra
    )
    assert parse_receipt(receipt.format()) == receipt


@fuzz(150)
@given(
    entries=st.lists(st.binary(max_size=300), max_size=6),
    ops=st.lists(mutate.edit, max_size=3),
)
def test_entry_bundles_decode_or_raise_verification_error(
    entries: list[bytes], ops: list[tuple[str, int, object]]
) -> None:
    blob = encode_entry_bundle(entries)
    assert decode_entry_bundle(blob) == entries
    with contextlib.suppress(VerificationError):
        decode_entry_bundle(mutate.apply(blob, ops))


@fuzz(100)
@given(ops=mutate.edits, vkey_ops=st.lists(mutate.edit, max_size=1))
def test_the_receipt_file_reader_raises_verification_error(
    material: Material, ops: list[tuple[str, int, object]], vkey_ops: list[tuple[str, int, object]]
) -> None:
    vkey = _text(mutate.apply(material.vkey.encode(), vkey_ops)).replace("\x00", "")
    with tempfile.TemporaryDirectory(prefix="copyseal-fuzz-") as tmp:
        path = Path(tmp) / "receipt.tlog-proof"
        path.write_bytes(mutate.apply(material.receipt, ops))
        try:
            result = verify_receipt_file(path, vkey=vkey, data=material.manifest)
        except VerificationError:
            return
    assert result.index == material.bundle.ledger_index
