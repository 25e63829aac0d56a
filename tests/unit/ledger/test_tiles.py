"""Static C2SP tlog-tiles export: paths, bundles, and a log rebuilt from the files."""

from __future__ import annotations

from pathlib import Path

import pytest
from nacl.signing import SigningKey

from copyseal.db import session as db
from copyseal.db.base import Base
from copyseal.db.schema.ledger import ledger_tables
from copyseal.errors import LedgerError, VerificationError
from copyseal.ledger import Ledger
from copyseal.ledger._merkle import leaf_hash
from copyseal.ledger.checkpoint import open_checkpoint
from copyseal.ledger.note import parse_vkey
from copyseal.ledger.tiles import (
    decode_entry_bundle,
    encode_entry_bundle,
    export_tiles,
    root_from_tiles,
    tile_path,
)


def test_tile_paths_follow_the_spec() -> None:
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(1, 5, 17) == "tile/1/005.p/17"
    assert tile_path("entries", 0) == "tile/entries/000"
    assert tile_path(2, 1000, 3) == "tile/2/x001/000.p/3"


def test_entry_bundles_round_trip() -> None:
    entries = [b"", b"a", b"x" * 300, b"\x00\xff"]
    bundle = encode_entry_bundle(entries)
    assert bundle[:5] == b"\x00\x00\x00\x01a"
    assert decode_entry_bundle(bundle) == entries
    with pytest.raises(LedgerError, match="entry 7 is 65,536 bytes"):
        encode_entry_bundle([b"y" * 65536], first=7)
    with pytest.raises(VerificationError, match="truncated entry"):
        decode_entry_bundle(bundle[:-1])
    with pytest.raises(VerificationError, match="truncated length prefix"):
        decode_entry_bundle(b"\x00")


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'tiles.db'}")
    Base.metadata.create_all(engine, tables=ledger_tables())
    return Ledger(engine=engine, origin="copyseal.test/tiles", signing_key=SigningKey(b"t" * 32))


def test_export_of_the_spec_example_size(ledger: Ledger, tmp_path: Path) -> None:
    leaves = [b"%d" % i for i in range(70_000)]
    ledger.append([("test", d) for d in leaves[:65_300]])
    ledger.append([("test", d) for d in leaves[65_300:69_950]])
    ledger.append([("test", d) for d in leaves[69_950:]])
    out = tmp_path / "tiles"
    result = export_tiles(ledger, out)
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    level0 = {f for f in files if f.startswith("tile/0/")}
    # "273 full level 0 tiles, one partial level 0 tile of width 112, one full level 1
    # tile, one partial level 1 tile of width 17, and one partial level 2 tile of width 1"
    assert len([f for f in level0 if ".p/" not in f]) == 273
    assert "tile/0/273.p/112" in files
    assert {f for f in files if f.startswith("tile/1/")} == {"tile/1/000", "tile/1/001.p/17"}
    assert {f for f in files if f.startswith("tile/2/")} == {"tile/2/000.p/1"}
    # The checkpoint at 69,950 still needs its partial tile; the one at 65,300 does not
    # (its tiles are full now).
    assert "tile/0/273.p/62" in files and "tile/entries/273.p/62" in files
    assert not any(".p/20" in f or ".p/255" in f for f in files)
    assert (result.size, result.tiles_written, result.bundles_written) == (70_000, 278, 275)

    checkpoint = open_checkpoint((out / "checkpoint").read_text(), parse_vkey(ledger.vkey()))
    assert root_from_tiles(out, 70_000) == checkpoint.root
    assert root_from_tiles(out, 65_300) == ledger.root_at(65_300)
    bundle = decode_entry_bundle((out / "tile/entries/273.p/112").read_bytes())
    assert bundle == leaves[273 * 256 :]
    tile = (out / "tile/0/273.p/112").read_bytes()
    assert tile == b"".join(leaf_hash(d) for d in bundle)

    # Growing the log re-exports only what changed.
    ledger.append([("test", b"one more")])
    again = export_tiles(ledger, out)
    assert (again.size, again.tiles_written, again.bundles_written) == (70_001, 1, 1)
    assert (out / "tile/0/273.p/113").exists()
    checkpoint = open_checkpoint((out / "checkpoint").read_text(), parse_vkey(ledger.vkey()))
    assert root_from_tiles(out, 70_001) == checkpoint.root
    assert list(out.rglob(".*")) == []  # no temporary file is left behind
