"""Deeply nested JSON, the input that crashed the parsers (found by these fuzzers).

Python's ``json`` recursion raised ``RecursionError`` (not a ``ValueError``) out of
``parse_proof_file``; and once ``copyseal.anchors.evm`` was imported, py_ecc's raised
recursion limit (100000) let ~200 000 nested brackets overflow the C stack: the process
died with SIGSEGV. Every parser of outside JSON now refuses deep nesting with its
documented error, and importing the EVM anchor leaves a limit that raises instead.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from copyseal._json import MAX_DEPTH, loads
from copyseal.anchors.evm._proof import check
from copyseal.anchors.proof_file import parse_proof_file
from copyseal.anchors.rfc3161 import TsaProof
from copyseal.bundle.manifest import parse_manifest
from copyseal.crawl import extract_html
from copyseal.errors import AnchorVerificationError, LedgerError, VerificationError
from copyseal.ledger.checkpoint import Checkpoint
from copyseal.ledger.statements import load_statement

DEEP = b"[" * 200_000 + b"]" * 200_000
JUST_TOO_DEEP = b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1)


def test_loads_bounds_depth_and_ignores_brackets_in_strings() -> None:
    assert loads(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    assert loads('{"s": "' + "[" * 5000 + '"}') == {"s": "[" * 5000}
    assert loads('["\\"[[[", 1]') == ['"[[[', 1]
    for doc in (DEEP, JUST_TOO_DEEP, DEEP.decode()):
        with pytest.raises(ValueError, match=f"nested deeper than {MAX_DEPTH} levels"):
            loads(doc)


@pytest.mark.parametrize("doc", [DEEP, JUST_TOO_DEEP], ids=["200k", "101"])
def test_every_outside_json_parser_refuses_deep_nesting_with_its_error(doc: bytes) -> None:
    with pytest.raises(VerificationError, match="anchor proof file: not UTF-8 JSON"):
        parse_proof_file(doc)
    with pytest.raises(VerificationError, match=r"manifest\.json: not UTF-8 JSON"):
        parse_manifest(doc)
    with pytest.raises(LedgerError, match="not UTF-8 JSON"):
        load_statement(doc)
    with pytest.raises(AnchorVerificationError, match="not ASCII JSON"):
        TsaProof.from_bytes(doc)
    cp = Checkpoint(origin="example.com/log", size=1, root=b"\x00" * 32)
    with pytest.raises(AnchorVerificationError, match="not JSON"):
        check(doc, cp)
    page = extract_html(
        f'<script type="application/ld+json">{doc.decode()}</script><img src="a.png">',
        "http://127.0.0.2/",
    )
    assert [r.url for r in page.images] == ["http://127.0.0.2/a.png"]


def test_the_evm_anchor_leaves_a_recursion_limit_that_raises_instead_of_crashing() -> None:
    # A fresh interpreter: py_ecc raises the limit once, at its first import.
    code = (
        "import sys, json, copyseal.anchors.evm\n"
        "assert sys.getrecursionlimit() <= 10_000, sys.getrecursionlimit()\n"
        "try:\n"
        "    json.loads('[' * 200_000)\n"
        "except RecursionError:\n"
        "    print('refused')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == "refused"
