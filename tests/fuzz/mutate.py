"""Byte- and line-level mutations of a genuine artefact, as Hypothesis strategies.

A mutation is a list of small edits (flip a byte, truncate, delete or insert a run,
duplicate, drop or swap a line, splice in a hostile token); applying it to a valid
receipt, note, proof file or zip reaches the checks past the first line.
"""

from __future__ import annotations

from hypothesis import strategies as st

#: Tokens that break parsers in interesting ways: huge numbers, signs, non-ASCII digits,
#: separators, NUL, invalid UTF-8, base64 padding, JSON nesting.
TOKENS = [
    b"", b"\n", b"\n\n", b"\r\n", b" ", b"\x00", b"\xff\xfe", b"\xed\xa0\x80", b"\xe2\x80\x94 ",
    b"-1", b"0", b"00", b"18446744073709551616", b"9" * 5000, b"\xd9\xa3", b"1_0", b"+1",
    b"=", b"==", b"AAAA", b"A", b"+", b"/", b"index ", b"extra ", b"c2sp.org/tlog-proof@v1",
    b"null", b"true", b"1e400", b"[" * 5000, b"{\"a\":" * 3000, b"\"\\ud800\"", b"{}", b"[]",
]  # fmt: skip

edit = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 20), st.just(b"")),
    st.tuples(st.just("delete"), st.integers(0, 1 << 20), st.integers(1, 48)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.sampled_from(TOKENS)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("line-drop"), st.integers(0, 1 << 10), st.just(b"")),
    st.tuples(st.just("line-dup"), st.integers(0, 1 << 10), st.just(b"")),
    st.tuples(st.just("line-swap"), st.integers(0, 1 << 10), st.integers(0, 1 << 10)),
    st.tuples(st.just("line-set"), st.integers(0, 1 << 10), st.sampled_from(TOKENS)),
)
edits = st.lists(edit, min_size=1, max_size=4)


def apply(data: bytes, ops: list[tuple[str, int, object]]) -> bytes:
    """``data`` with each edit applied in turn (positions wrap around the length)."""
    for kind, pos, arg in ops:
        if kind.startswith("line-"):
            lines = data.split(b"\n")
            i = pos % len(lines)
            if kind == "line-drop":
                del lines[i]
            elif kind == "line-dup":
                lines.insert(i, lines[i])
            elif kind == "line-swap":
                assert isinstance(arg, int)
                j = arg % len(lines)
                lines[i], lines[j] = lines[j], lines[i]
            else:
                assert isinstance(arg, bytes)
                lines[i] = arg
            data = b"\n".join(lines)
            continue
        at = pos % (len(data) + 1)
        if kind == "flip" and at < len(data):
            assert isinstance(arg, int)
            data = data[:at] + bytes([data[at] ^ arg]) + data[at + 1 :]
        elif kind == "truncate":
            data = data[:at]
        elif kind == "delete":
            assert isinstance(arg, int)
            data = data[:at] + data[at + arg :]
        elif kind == "insert":
            assert isinstance(arg, bytes)
            data = data[:at] + arg + data[at:]
    return data
