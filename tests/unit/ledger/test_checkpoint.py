"""C2SP tlog-checkpoint bodies: parse, format, round trip, strictness."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from copyseal.errors import LedgerError, VerificationError
from copyseal.ledger.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint
from copyseal.ledger.note import NoteSigner, open_note, parse_vkey

from ._util import VECTORS

GO_NOTE = (VECTORS / "go-signed-checkpoint.txt").read_text(encoding="utf-8")
GO_VKEY = (VECTORS / "go-signed-checkpoint.vkey").read_text(encoding="utf-8").strip()
ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()


def test_go_checkpoint_parses() -> None:
    cp = open_checkpoint(GO_NOTE, parse_vkey(GO_VKEY))
    assert cp.origin == "go.example/log"
    assert cp.size == 3
    assert base64.b64encode(cp.root).decode() == "rrbL/idLcKFPsGel5VeCZNsPqbUa9eC6FZFY8ynObnc="
    assert cp.extensions == ()
    assert cp.format() == open_note(GO_NOTE, [parse_vkey(GO_VKEY)]).text


def test_format_is_the_spec_layout() -> None:
    cp = Checkpoint(origin="example.com/log", size=20852163, root=ROOT, extensions=("ext one",))
    assert cp.format() == f"example.com/log\n20852163\n{ROOT_B64}\next one\n"
    assert parse_checkpoint(cp.format()) == cp


def test_signed_checkpoint_opens_and_checks_the_origin() -> None:
    signer = NoteSigner(name="example.com/log", signing_key=SigningKey(b"\x03" * 32))
    note = Checkpoint(origin="example.com/log", size=7, root=ROOT).sign(signer)
    assert open_checkpoint(note, signer.verifier).size == 7
    with pytest.raises(VerificationError, match=r"expected 'example\.com/other'"):
        open_checkpoint(note, signer.verifier, origin="example.com/other")
    foreign = Checkpoint(origin="example.com/elsewhere", size=7, root=ROOT).sign(signer)
    with pytest.raises(VerificationError, match=r"is for log 'example\.com/elsewhere'"):
        open_checkpoint(foreign, signer.verifier)


_line = st.text(
    st.characters(blacklist_categories=["Cc", "Cs"], blacklist_characters="\n"), min_size=1
)


@settings(max_examples=50, deadline=None)
@given(
    origin=_line,
    size=st.integers(0, (1 << 63) - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(_line, max_size=3),
)
def test_round_trip(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    cp = Checkpoint(origin=origin, size=size, root=root, extensions=tuple(extensions))
    assert parse_checkpoint(cp.format()) == cp


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (f"o\n03\n{ROOT_B64}\n", "invalid size"),
        (f"o\n+3\n{ROOT_B64}\n", "invalid size"),
        (f"o\n 3\n{ROOT_B64}\n", "invalid size"),
        (f"o\n-1\n{ROOT_B64}\n", "invalid size"),
        (f"o\n\uff13\n{ROOT_B64}\n", "invalid size"),  # a full-width digit three
        (f"o\n1_0\n{ROOT_B64}\n", "invalid size"),
        (f"o\n{1 << 63}\n{ROOT_B64}\n", "invalid size"),
        (f"o\n3\n{ROOT_B64[:-4]}\n", "not 32 bytes"),
        (f"o\n3\n{ROOT_B64[:-2]}B=\n", "not 32 bytes"),  # non-canonical trailing bits
        ("o\n3\nnot base64!\n", "not base64"),
        (f"o\n3\n{ROOT_B64}", "end with a newline"),
        ("o\n3\n", "fewer than three lines"),
        (f"o\n3\n{ROOT_B64}\n\next\n", "empty line"),
        (f"\n3\n{ROOT_B64}\n", "empty line"),
    ],
)
def test_malformed_checkpoints_are_rejected(text: str, match: str) -> None:
    with pytest.raises(VerificationError, match=f"malformed checkpoint: .*{match}"):
        parse_checkpoint(text)


def test_invalid_checkpoints_cannot_be_built() -> None:
    with pytest.raises(LedgerError, match="origin"):
        Checkpoint(origin="a\nb", size=1, root=ROOT)
    with pytest.raises(LedgerError, match="size -1"):
        Checkpoint(origin="o", size=-1, root=ROOT)
    with pytest.raises(LedgerError, match="32-byte"):
        Checkpoint(origin="o", size=1, root=b"short")
    with pytest.raises(LedgerError, match="extension"):
        Checkpoint(origin="o", size=1, root=ROOT, extensions=("",))
