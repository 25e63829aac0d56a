"""A zip that verifies in place but shows a streaming reader other content.

A streaming reader (Java's ``ZipInputStream``, ``jar x`` fed on stdin) reads local
headers front to back and ends an entry that has a data descriptor where its deflate
stream ends. Bytes put after that end but inside the size the central directory records
are skipped by a central-directory reader and read by the streaming one as another local
header: here a forged ``raw.html`` that swallows the genuine one.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from copyseal.bundle import BundleInfo, EvidenceFile, export_zip, verify_bundle, write_bundle
from copyseal.errors import VerificationError
from copyseal.ledger import Ledger
from copyseal.storage import Area
from copyseal.workspace import Workspace, init_workspace

LOCAL = struct.Struct("<4sHHHHHIIIHH")
CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
FORGED = b"<html><body>FORGED PAGE</body></html><!--"


def _deflate(data: bytes) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    return comp.compress(data) + comp.flush()


def _local(name: bytes, *, flags: int, method: int, crc: int, csize: int, usize: int) -> bytes:
    return LOCAL.pack(b"PK\x03\x04", 20, flags, method, 0, 0x21, crc, csize, usize, len(name), 0)


def _central(info: zipfile.ZipInfo, flags: int, crc: int, csize: int, usize: int, at: int) -> bytes:
    name = info.filename.encode()
    fields = (20, 20, flags, 8, 0, 0x21, crc, csize, usize, len(name), 0, 0, 0, 0)
    return CENTRAL.pack(b"PK\x01\x02", *fields, info.external_attr, at) + name


def smuggle(genuine: Path, out: Path, carrier: str, victim: str) -> Path:
    """``genuine`` rewritten: ``carrier`` (deflated, with a data descriptor) right before
    ``victim``, with a forged stored ``victim`` hidden after its deflate stream."""
    with zipfile.ZipFile(genuine) as zf:
        items = [(i, zf.read(i)) for i in zf.infolist()]
    order = [i.filename for i, _ in items]
    items.insert(order.index(victim), items.pop(order.index(carrier)))
    blob, central = b"", b""
    k = 0
    while k < len(items):
        info, data = items[k]
        name, crc, deflated = info.filename.encode(), zlib.crc32(data), _deflate(data)
        if info.filename != carrier:
            central += _central(info, 0, crc, len(deflated), len(data), len(blob))
            blob += _local(name, flags=0, method=8, crc=crc, csize=len(deflated), usize=len(data))
            blob += name + deflated
            k += 1
            continue
        vinfo, vdata = items[k + 1]
        vname, vcrc, vdef = vinfo.filename.encode(), zlib.crc32(vdata), _deflate(vdata)
        vlocal = _local(vname, flags=0, method=8, crc=vcrc, csize=len(vdef), usize=len(vdata))
        vlocal += vname
        seen_end = struct.pack("<4sIII", b"PK\x07\x08", crc, len(deflated), len(data))
        slack_len = len(seen_end) + LOCAL.size + len(vname) + len(FORGED)
        real_end = struct.pack("<4sIII", b"PK\x07\x08", crc, len(deflated) + slack_len, len(data))
        forged = FORGED + real_end + vlocal + vdef
        fcrc = zlib.crc32(forged)
        hidden = _local(vname, flags=0, method=0, crc=fcrc, csize=len(forged), usize=len(forged))
        central += _central(info, 8, crc, len(deflated) + slack_len, len(data), len(blob))
        blob += _local(name, flags=8, method=8, crc=0, csize=0, usize=0) + name
        blob += deflated + seen_end + hidden + vname + FORGED + real_end
        central += _central(vinfo, 0, vcrc, len(vdef), len(vdata), len(blob))
        blob += vlocal + vdef
        k += 2
    n = len(items)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, n, n, len(central), len(blob), 0)
    out.write_bytes(blob + central + end)
    return out


class _Unseekable(io.RawIOBase):
    """A write-only stream: zipfile then writes a data descriptor after every entry."""

    def __init__(self, sink: io.BufferedWriter) -> None:
        self.sink = sink

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        return self.sink.write(b)


@pytest.fixture(scope="module")
def sealed(
    tmp_path_factory: pytest.TempPathFactory, photos: dict[str, np.ndarray]
) -> tuple[BundleInfo, Ledger, Path]:
    root = tmp_path_factory.mktemp("streaming")
    ws = Workspace.open(init_workspace(root / "ws"))
    ledger = Ledger(
        engine=ws.engine, origin=ws.settings.ledger.origin, signing_key=ws.signing_key()
    )
    shot = io.BytesIO()
    Image.fromarray(photos["coffee"]).save(shot, format="PNG")
    info = write_bundle(
        root=ws.store.folder(Area.BUNDLES),
        url="http://127.0.0.1:8000/gallery/",
        captured_at=datetime(2026, 11, 25, 9, 0, 0, tzinfo=UTC),
        files=[
            EvidenceFile(name="screenshot-full.png", media_type="image/png", data=shot.getvalue()),
            EvidenceFile(name="page/raw.html", media_type="text/html", data=b"<html>real</html>"),
        ],
        match={"work_id": "w0123456789abcdef0123", "score": 0.97},
        capture={"status": 200, "final_url": "http://127.0.0.1:8000/gallery/"},
        signing_key=ws.signing_key(),
        ledger=ledger,
        organization="Jane Doe Photography",
    )
    genuine = export_zip(info.path, root / "genuine.zip")
    assert verify_bundle(genuine, vkey=ledger.vkey()).ok
    ws.close()
    return info, ledger, genuine


def test_a_forged_entry_after_a_deflate_stream_is_refused(
    sealed: tuple[BundleInfo, Ledger, Path], tmp_path: Path
) -> None:
    info, ledger, genuine = sealed
    top = info.bundle_id
    victim = f"{top}/data/page/raw.html"
    out = smuggle(genuine, tmp_path / "smuggled.zip", f"{top}/data/screenshot-full.png", victim)
    with zipfile.ZipFile(out) as zf:  # a central-directory reader sees the genuine page
        assert zf.read(victim) == b"<html>real</html>"
    jar = shutil.which("jar")
    if jar is not None:  # and a streaming one the forgery
        (tmp_path / "x").mkdir()
        with out.open("rb") as fh:
            subprocess.run([jar, "x"], stdin=fh, cwd=tmp_path / "x", check=True, timeout=60)
        assert (tmp_path / "x" / victim).read_bytes().startswith(FORGED)
    with pytest.raises(VerificationError, match=r"screenshot-full\.png' has data after its defl"):
        verify_bundle(out, vkey=ledger.vkey())


def test_a_zip_written_with_data_descriptors_still_verifies(
    sealed: tuple[BundleInfo, Ledger, Path], tmp_path: Path
) -> None:
    _, ledger, genuine = sealed
    out = tmp_path / "streamed.zip"
    with (
        zipfile.ZipFile(genuine) as src,
        out.open("wb") as sink,
        zipfile.ZipFile(_Unseekable(sink), "w", compression=zipfile.ZIP_DEFLATED) as zf,
    ):
        for item in src.infolist():
            zf.writestr(item, src.read(item))
    with zipfile.ZipFile(out) as zf:
        assert all(i.flag_bits & 0x8 for i in zf.infolist() if not i.is_dir())
    assert verify_bundle(out, vkey=ledger.vkey()).ok
