"""Fuzzing anchor proof files: ``parse_proof_file`` raises only ``VerificationError`` and
``verify_proof_file`` never raises (a bad file is a failed check saying why).

Inputs are the genuine proof file of a sealed bundle with its bytes mutated, the same
document with any value replaced by arbitrary JSON (wrong types, huge or negative sizes,
deep nesting), and arbitrary bytes.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from copyseal.anchors.proof_file import parse_proof_file, verify_proof_file
from copyseal.bundle.anchored import receipt_checkpoint
from copyseal.errors import VerificationError

from . import mutate
from .budget import fuzz
from .conftest import Material

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(1 << 70), max_value=1 << 70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {**doc, head: _replace(doc[head], rest, value)}
    copy = list(doc)
    copy[head] = _replace(doc[head], rest, value)
    return copy


def _check(material: Material, blob: bytes) -> None:
    with contextlib.suppress(VerificationError):
        parse_proof_file(blob)
    checks = verify_proof_file(
        blob,
        checkpoint=receipt_checkpoint(material.bundle.path),
        vkey=material.vkey,
        bundle_id=material.bundle.bundle_id,
        min_witnesses=1,
    )
    assert checks and checks[0].name == "anchor-consistency"
    assert not all(c.ok for c in checks)  # min_witnesses=1 and the workspace has no witness
    assert all(c.detail for c in checks)


def test_genuine_proof_file_verifies(material: Material) -> None:
    checks = verify_proof_file(
        material.proof_file,
        checkpoint=receipt_checkpoint(material.bundle.path),
        vkey=material.vkey,
        bundle_id=material.bundle.bundle_id,
    )
    assert [c.ok for c in checks] == [True] * len(checks) and len(checks) >= 2


@fuzz(200)
@given(ops=mutate.edits)
# Found by this fuzzer: deep JSON nesting raised RecursionError out of the parser.
@example(ops=[("insert", 0, b"[" * 5000)])
@example(ops=[("line-set", 0, b"[" * 100_000)])
def test_mutated_proof_files_fail_cleanly(
    material: Material, ops: list[tuple[str, int, object]]
) -> None:
    _check(material, mutate.apply(material.proof_file, ops))


@fuzz(200)
@given(data=st.data(), value=_json)
def test_any_value_replaced_fails_cleanly(
    material: Material, data: st.DataObject, value: Any
) -> None:
    doc = json.loads(material.proof_file)
    path = data.draw(st.sampled_from(_paths(doc)))
    blob = json.dumps(_replace(doc, path, value)).encode()
    _check(material, blob)


@fuzz(100)
@given(blob=st.binary(max_size=300))
def test_arbitrary_bytes_fail_cleanly(material: Material, blob: bytes) -> None:
    _check(material, blob)
