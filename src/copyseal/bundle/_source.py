"""Where a bundle's bytes are read from: a folder, or a zip read in place.

The verifier never extracts a zip: it reads each entry it checks straight from the
archive, streamed, so a hostile zip cannot fill the disk and what is verified is exactly
what the archive holds. A zip is refused as a whole (:class:`VerificationError` naming the
entry and the rule) before any check runs when it could show one reader other content
than another, or could expand without bound:

- two entries whose names are equal, also after Unicode NFKC normalisation and case
  folding (readers differ on which one they show: the first, the last, or whichever a
  case-insensitive file system keeps);
- a symlink (Unix mode ``S_IFLNK`` in the external attributes) or any other entry that
  is neither a regular file nor a folder; an encrypted entry; a method other than
  stored or deflate;
- an absolute, ``.``/``..``, backslash, empty-part or control-character name, or one
  outside the single top folder;
- local headers that do not tile the archive from its first byte to the central
  directory, or that disagree with the central directory (a streaming reader such as
  ``unzip -`` or Java's ``ZipInputStream`` reads local headers, and would then show
  content the central directory hides);
- more than :attr:`ZipLimits.max_entries` entries, more than
  :attr:`ZipLimits.max_total_bytes` uncompressed, or an entry of more than
  :attr:`ZipLimits.ratio_floor` bytes expanding more than :attr:`ZipLimits.max_ratio`
  times (deflate's own limit is about 1032:1; evidence files measured here — PNG, JPEG,
  HTML, WARC — stay under 20:1).

A folder is read as it is; :meth:`FolderSource.strays` names what a folder must not hold
besides the listed files: symlinks (to files or folders), non-regular entries (FIFOs,
sockets, devices) and folders holding no file.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Protocol

from copyseal.errors import VerificationError

__all__ = ["FolderSource", "Source", "ZipLimits", "ZipSource", "open_zip"]

_CHUNK = 1 << 16
#: A tag file (manifest, signature, receipt, keys, README) is read whole; none comes
#: near this (a manifest listing 10,000 files is about 2 MB).
MAX_TAG_BYTES = 64 << 20
# Local file header (APPNOTE.TXT 4.3.7): signature, then fixed fields, 30 bytes in all.
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIG = b"PK\x03\x04"
_DESCRIPTOR_SIG = b"PK\x07\x08"
_ZIP64_MARK = 0xFFFFFFFF
# Info-ZIP Unicode Path extra field: a second name that some readers (Info-ZIP unzip)
# show instead of the entry's own (APPNOTE.TXT 4.6.9).
_UNICODE_PATH = 0x7075
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError)


@dataclass(frozen=True, kw_only=True)
class ZipLimits:
    """Caps on a bundle zip, checked on its central directory before any entry is read."""

    #: Entries in all (a bundle holds 11 tag files and, per page, tens of evidence files).
    max_entries: int = 10_000
    #: Sum of the entries' uncompressed sizes.
    max_total_bytes: int = 4 << 30
    #: Uncompressed size per compressed byte, for entries larger than ``ratio_floor``.
    max_ratio: int = 100
    ratio_floor: int = 1 << 20


class Source(Protocol):
    """A bundle's files by their path inside the bundle (``data/x.png``, ``manifest.json``)."""

    def files(self) -> set[str]:
        """Every regular file present."""
        ...

    def strays(self) -> list[str]:
        """What is present besides regular files and the folders holding them."""
        ...

    def is_file(self, name: str) -> bool:
        """``name`` is a regular file inside the bundle, reached without a symlink."""
        ...

    def read(self, name: str) -> bytes:
        """A tag file's bytes (at most :data:`MAX_TAG_BYTES`).

        Raises:
            VerificationError: missing, not regular, too large or unreadable.
        """
        ...

    def digest(self, name: str) -> tuple[str, int]:
        """SHA-256 (hex) and size of a file, streamed.

        Raises:
            VerificationError: missing, not regular or unreadable.
        """
        ...


def _hash(fh: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := fh.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


class FolderSource:
    """A bundle folder on disk."""

    def __init__(self, *, root: Path) -> None:
        self.root = root

    def _walk(self) -> tuple[set[str], list[str]]:
        found: set[str] = set()
        strays: list[str] = []
        for top, dirs, names, dir_fd in os.fwalk(self.root, follow_symlinks=False):
            rel = PurePosixPath(Path(top).relative_to(self.root).as_posix())
            for name in dirs + names:
                path = (rel / name).as_posix()
                try:
                    mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
                except OSError as e:
                    strays.append(f"{path}: unreadable ({e.strerror or e})")
                    continue
                if stat.S_ISLNK(mode):
                    strays.append(f"{path}: a symlink")
                elif stat.S_ISREG(mode):
                    found.add(path)
                elif not stat.S_ISDIR(mode):
                    strays.append(f"{path}: not a regular file or folder")
            if rel.as_posix() != "." and not names and not dirs:
                strays.append(f"{rel.as_posix()}/: an empty folder")
        return found, strays

    def files(self) -> set[str]:
        return self._walk()[0]

    def strays(self) -> list[str]:
        return self._walk()[1]

    def is_file(self, name: str) -> bool:
        path = self.root / name
        try:
            return (
                not any(
                    p.is_symlink()
                    for p in [path, *path.parents]
                    if p != self.root and self.root in p.parents
                )
                and path.resolve().is_relative_to(self.root.resolve())
                and path.is_file()
            )
        except OSError:
            return False

    @contextmanager
    def _open(self, name: str) -> Iterator[IO[bytes]]:
        if not self.is_file(name):
            raise VerificationError(f"{name}: missing (or not a regular file inside the bundle)")
        try:
            fh = (self.root / name).open("rb")
        except OSError as e:
            raise VerificationError(f"{name}: unreadable ({e.strerror or e})") from e
        with fh:
            yield fh

    def read(self, name: str) -> bytes:
        with self._open(name) as fh:
            try:
                data = fh.read(MAX_TAG_BYTES + 1)
            except OSError as e:
                raise VerificationError(f"{name}: unreadable ({e.strerror or e})") from e
        if len(data) > MAX_TAG_BYTES:
            raise VerificationError(f"{name}: larger than {MAX_TAG_BYTES} bytes")
        return data

    def digest(self, name: str) -> tuple[str, int]:
        with self._open(name) as fh:
            try:
                return _hash(fh)
            except OSError as e:
                raise VerificationError(f"{name}: unreadable ({e.strerror or e})") from e


def _name_problem(name: str) -> str | None:
    parts = name.rstrip("/").split("/")
    if not name or name.startswith("/") or "\\" in name:
        return "an absolute or backslash name"
    if any(p in ("", ".", "..") for p in parts):
        return "an empty, '.' or '..' name part"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return "a control character in the name"
    if ":" in parts[0]:
        return "a drive name"
    return None


def _fold(name: str) -> str:
    """The name as a case-insensitive, normalising reader or file system sees it."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


class ZipSource:
    """A bundle zip (one top folder holding the bundle), read in place."""

    def __init__(self, *, path: Path, zf: zipfile.ZipFile, limits: ZipLimits) -> None:
        self.path = path
        self._zf = zf
        self._entries: dict[str, zipfile.ZipInfo] = {}
        self._check(limits)

    def _refuse(self, info: zipfile.ZipInfo | None, why: str) -> VerificationError:
        entry = f" entry {info.filename!r}" if info is not None else ""
        return VerificationError(f"{self.path}:{entry} {why}")

    def _check(self, limits: ZipLimits) -> None:
        infos = self._zf.infolist()
        if len(infos) > limits.max_entries:
            raise self._refuse(None, f"has {len(infos)} entries, more than {limits.max_entries}")
        total = sum(i.file_size for i in infos)
        if total > limits.max_total_bytes:
            raise self._refuse(
                None, f"expands to {total} bytes, more than {limits.max_total_bytes}"
            )
        seen: dict[str, str] = {}
        tops: set[str] = set()
        folders: set[str] = set()
        for info in infos:
            self._check_entry(info, limits)
            key = _fold(info.filename.rstrip("/"))
            if key in seen:
                same = seen[key] == info.filename
                raise self._refuse(
                    info,
                    "appears twice"
                    if same
                    else f"has the same name as entry {seen[key]!r} (after case folding and"
                    " Unicode normalisation)",
                )
            seen[key] = info.filename
            parts = info.filename.rstrip("/").split("/")
            tops.add(parts[0])
            if info.is_dir():
                folders.add("/".join(parts[1:]))
            elif len(parts) < 2:
                raise self._refuse(info, "is a file outside the bundle's folder")
            else:
                self._entries["/".join(parts[1:])] = info
        if len(tops) != 1:
            raise VerificationError(f"{self.path}: a bundle zip holds exactly one folder")
        parents = {str(p) for n in self._entries for p in PurePosixPath(n).parents}
        empty = sorted(folders - parents - {""})
        if empty:
            raise self._refuse(None, f"holds a folder with no file: {empty[0]}/")
        self._check_tiling(infos)

    def _check_entry(self, info: zipfile.ZipInfo, limits: ZipLimits) -> None:
        problem = _name_problem(info.filename)
        if problem:
            raise VerificationError(f"{self.path}: unsafe entry name {info.filename!r}: {problem}")
        kind = stat.S_IFMT(info.external_attr >> 16)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise self._refuse(info, "is a symlink")
        if (
            kind not in (0, stat.S_IFREG, stat.S_IFDIR)
            or (kind == stat.S_IFDIR and not info.is_dir())
            or (kind == stat.S_IFREG and info.is_dir())
        ):
            raise self._refuse(info, f"is not a regular file or folder (mode {kind:o})")
        if _UNICODE_PATH in _extra_ids(info.extra):
            raise self._refuse(info, "has a second name (Info-ZIP Unicode Path extra field)")
        if info.flag_bits & 0x1:
            raise self._refuse(info, "is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise self._refuse(info, f"uses compression method {info.compress_type}")
        if info.is_dir() and info.file_size:
            raise self._refuse(info, "is a folder with content")
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise self._refuse(
                info,
                f"expands {info.file_size} bytes from {info.compress_size}, more than"
                f" {limits.max_ratio} times",
            )

    def _check_tiling(self, infos: list[zipfile.ZipInfo]) -> None:
        """Local headers follow each other from byte 0 to the central directory, each
        agreeing with its central directory record."""
        fp = self._zf.fp
        assert fp is not None
        at = 0
        for info in sorted(infos, key=lambda i: i.header_offset):
            if info.header_offset != at:
                raise self._refuse(
                    info,
                    f"starts at byte {info.header_offset}, not {at}: hidden or overlapping data",
                )
            fp.seek(at)
            head = fp.read(_LOCAL.size)
            if len(head) != _LOCAL.size:
                raise self._refuse(info, "has a truncated local header")
            sig, _, flags, method, _, _, crc, csize, usize, nlen, xlen = _LOCAL.unpack(head)
            name = fp.read(nlen)
            if (
                sig != _LOCAL_SIG
                or method != info.compress_type
                or name != _raw_name(info)
                or flags & 0x9 != info.flag_bits & 0x9  # encryption, data descriptor
            ):
                raise self._refuse(info, "has a local header unlike its central record")
            if _UNICODE_PATH in _extra_ids(fp.read(xlen)):
                raise self._refuse(info, "has a second name (Info-ZIP Unicode Path extra field)")
            if (
                not flags & 0x8
                and _ZIP64_MARK not in (csize, usize)
                and ((crc, csize, usize) != (info.CRC, info.compress_size, info.file_size))
            ):
                raise self._refuse(info, "has local sizes or CRC unlike its central record")
            start = at + _LOCAL.size + nlen + xlen
            at = start + info.compress_size
            if flags & 0x8:
                self._check_delimited(info, start)
                at += self._descriptor(info, at)
        if at != self._zf.start_dir:
            raise self._refuse(None, f"has {self._zf.start_dir - at} bytes of hidden data")

    def _check_delimited(self, info: zipfile.ZipInfo, start: int) -> None:
        """An entry with a data descriptor ends, for a streaming reader (Java's
        ``ZipInputStream``, ``jar x``), where its deflate stream ends; the next local header
        is read from there. Bytes between that end and the central directory's size would
        be another entry to such a reader (measured: ``jar x`` showed a forged
        ``raw.html`` hidden there while this reader saw the genuine one), so the stream must
        end exactly at the recorded size. A stored entry has no end of its own: refused."""
        if info.compress_type != zipfile.ZIP_DEFLATED:
            raise self._refuse(info, "is stored with a data descriptor (no end of its own)")
        fp = self._zf.fp
        assert fp is not None
        fp.seek(start)
        left = info.compress_size
        inflater = zlib.decompressobj(-15)
        while left and not inflater.eof:
            chunk = fp.read(min(_CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            while chunk and not inflater.eof:
                inflater.decompress(chunk, _CHUNK)  # output dropped: bounded memory
                chunk = inflater.unconsumed_tail
        if not inflater.eof or left or inflater.unused_data:
            raise self._refuse(
                info, "has data after its deflate stream (a streaming reader sees other entries)"
            )

    def _descriptor(self, info: zipfile.ZipInfo, at: int) -> int:
        """The length of the data descriptor at ``at`` (APPNOTE.TXT 4.3.9)."""
        fp = self._zf.fp
        assert fp is not None
        fp.seek(at)
        head = fp.read(4)
        size = 4 if head == _DESCRIPTOR_SIG else 0
        return size + (
            20 if info.file_size >= _ZIP64_MARK or info.compress_size >= _ZIP64_MARK else 12
        )

    def files(self) -> set[str]:
        return set(self._entries)

    def strays(self) -> list[str]:
        return []  # refused when opened

    def is_file(self, name: str) -> bool:
        return name in self._entries

    @contextmanager
    def _open(self, name: str) -> Iterator[IO[bytes]]:
        info = self._entries.get(name)
        if info is None:
            raise VerificationError(f"{name}: missing (or not a regular file inside the bundle)")
        try:
            with self._zf.open(info) as fh:
                yield fh
        except _READ_ERRORS as e:
            raise VerificationError(f"{name}: unreadable zip entry ({e})") from e

    def read(self, name: str) -> bytes:
        if name in self._entries and self._entries[name].file_size > MAX_TAG_BYTES:
            raise VerificationError(f"{name}: larger than {MAX_TAG_BYTES} bytes")
        with self._open(name) as fh:
            return fh.read()

    def digest(self, name: str) -> tuple[str, int]:
        with self._open(name) as fh:
            return _hash(fh)


def _extra_ids(extra: bytes) -> set[int]:
    """The header ids of an extra field's blocks (APPNOTE.TXT 4.5.1)."""
    ids = set()
    at = 0
    while at + 4 <= len(extra):
        kind, size = struct.unpack_from("<HH", extra, at)
        ids.add(kind)
        at += 4 + size
    return ids


def _raw_name(info: zipfile.ZipInfo) -> bytes:
    """The name's bytes as stored (UTF-8 when flag bit 11 says so, else CP437)."""
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    return info.orig_filename.encode(encoding)


@contextmanager
def open_zip(path: Path, *, limits: ZipLimits) -> Iterator[ZipSource]:
    """The zip at ``path`` as a :class:`ZipSource`, checked against every rule above.

    Raises:
        VerificationError: unreadable, or it breaks a rule (naming the entry).
    """
    try:
        zf = zipfile.ZipFile(path)
    except (*_READ_ERRORS, NotImplementedError, zipfile.LargeZipFile) as e:
        raise VerificationError(f"{path}: not a readable zip ({e})") from e
    with zf:
        try:
            source = ZipSource(path=path, zf=zf, limits=limits)
        except (*_READ_ERRORS, UnicodeError, struct.error) as e:
            raise VerificationError(f"{path}: not a readable zip ({e})") from e
        yield source
