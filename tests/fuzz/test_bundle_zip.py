"""Fuzzing bundle (zip) verification: a verdict or ``VerificationError``, nothing else.

``verify_bundle`` documents one exception, ``VerificationError`` when the path is neither
a folder nor a readable, safe zip; any other bad bundle is a result whose failed checks
say why. Inputs are the genuine zip of a sealed bundle with its bytes mutated (headers,
compressed data, the central directory), and zips rebuilt with hostile entries: names
that repeat, escape, or carry invalid UTF-8 under the UTF-8 flag; symlinks; unknown
compression methods; the encryption flag; lying sizes. A mutation that still verifies must
show the genuine manifest.
"""

from __future__ import annotations

import io
import tempfile
import warnings
import zipfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from copyseal.bundle import verify_bundle
from copyseal.errors import VerificationError

from . import mutate
from .budget import fuzz
from .conftest import Material


def _verify(material: Material, blob: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="copyseal-fuzz-") as tmp:
        path = Path(tmp) / "bundle.zip"
        path.write_bytes(blob)
        try:
            result = verify_bundle(path, vkey=material.vkey)
        except VerificationError as e:
            assert str(e)
            return
        leftovers = [p.name for p in Path(tmp).iterdir()]
    assert leftovers == ["bundle.zip"]  # verification writes nothing beside the zip
    assert result.checks
    if result.ok:
        assert result.manifest is not None
        assert result.manifest.bundle_id == material.bundle.bundle_id
    else:
        assert all(c.detail for c in result.failures())


def test_genuine_zip_verifies(material: Material) -> None:
    with tempfile.TemporaryDirectory(prefix="copyseal-fuzz-") as tmp:
        path = Path(tmp) / "bundle.zip"
        path.write_bytes(material.zip_bytes)
        result = verify_bundle(path, vkey=material.vkey)
    assert result.ok, result.failures()


@fuzz(150)
@given(ops=mutate.edits)
def test_mutated_zips_verify_fail_or_raise_verification_error(
    material: Material, ops: list[tuple[str, int, object]]
) -> None:
    _verify(material, mutate.apply(material.zip_bytes, ops))


_entry_change = st.one_of(
    st.tuples(st.just("rename"), st.sampled_from(["../x", "/abs", "a\\b", "./m", "", "x/../y"])),
    st.tuples(st.just("duplicate"), st.booleans()),  # True: the copy comes first
    st.tuples(st.just("casefold"), st.just(None)),
    st.tuples(st.just("nfd"), st.just(None)),
    st.tuples(st.just("symlink"), st.just(None)),
    st.tuples(st.just("method"), st.sampled_from([1, 6, 9, 12, 14, 93, 99])),
    st.tuples(st.just("flag"), st.sampled_from([0x1, 0x800, 0x40, 0x8])),
    st.tuples(st.just("size"), st.sampled_from([0, 1, 1 << 32 - 1, 1 << 31])),
    st.tuples(st.just("extra"), st.binary(max_size=12)),
    st.tuples(st.just("dir"), st.just(None)),
)


def _rebuild(zip_bytes: bytes, changes: list[tuple[int, tuple[str, object]]]) -> bytes:
    """The zip re-written entry by entry, with ``changes`` applied to chosen entries."""
    src = zipfile.ZipFile(io.BytesIO(zip_bytes))
    infos = src.infolist()
    plan: dict[int, list[tuple[str, object]]] = {}
    for i, change in changes:
        plan.setdefault(i % len(infos), []).append(change)
    out = io.BytesIO()
    with (
        warnings.catch_warnings(),  # zipfile warns of the duplicate names made on purpose
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst,
    ):
        warnings.simplefilter("ignore", UserWarning)
        for i, info in enumerate(infos):
            data = src.read(info)
            new = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            new.compress_type = info.compress_type
            new.external_attr = info.external_attr
            first: list[tuple[zipfile.ZipInfo, bytes]] = []
            for kind, arg in plan.get(i, []):
                top = info.filename.split("/", 1)[0]
                if kind == "rename":
                    new.filename = f"{top}/{arg}" if arg else ""
                elif kind == "duplicate":
                    forged = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                    first.append((forged, b"forged " + data[:64]))
                    if not arg:
                        first.reverse()
                elif kind == "casefold":
                    first.append((zipfile.ZipInfo(info.filename.upper()), data))
                elif kind == "nfd":
                    first.append((zipfile.ZipInfo(info.filename + "\u0301"), data))
                elif kind == "symlink":
                    new.external_attr = (0o120777 << 16) | (new.external_attr & 0xFFFF)
                    data = b"../../etc/passwd"
                elif kind == "method":
                    assert isinstance(arg, int)
                    new.compress_type = arg if arg in (0, 8, 12, 14) else 0
                    new.flag_bits |= 0  # unknown methods are patched in below
                elif kind == "flag":
                    assert isinstance(arg, int)
                    new.flag_bits |= arg & ~0x8
                elif kind == "size":
                    data = data[: max(0, len(data) // 2)]
                elif kind == "extra":
                    assert isinstance(arg, bytes)
                    new.extra = arg
                elif kind == "dir":
                    first.append((zipfile.ZipInfo(f"{top}/empty/"), b""))
            for extra_info, extra_data in first:
                try:
                    dst.writestr(extra_info, extra_data)
                except (ValueError, NotImplementedError, RuntimeError):
                    continue
            if not new.filename:
                continue
            try:
                dst.writestr(new, data)
            except (ValueError, NotImplementedError, RuntimeError):
                dst.writestr(zipfile.ZipInfo(new.filename), data)
    blob = out.getvalue()
    for _i, change in changes:  # methods the writer refuses: patch the headers' method field
        kind, arg = change
        if kind == "method" and arg not in (0, 8, 12, 14):
            assert isinstance(arg, int)
            blob = blob.replace(
                b"PK\x03\x04\x14\x00\x00\x00\x00\x00",
                b"PK\x03\x04\x14\x00\x00\x00" + bytes([arg, 0]),
                1,
            )
    return blob


@fuzz(120)
@given(changes=st.lists(st.tuples(st.integers(0, 64), _entry_change), min_size=1, max_size=3))
def test_hostile_entries_fail_or_raise_verification_error(
    material: Material, changes: list[tuple[int, tuple[str, object]]]
) -> None:
    _verify(material, _rebuild(material.zip_bytes, changes))
