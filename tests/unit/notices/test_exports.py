"""The notices package's public names are pinned (changing them is a decision)."""

from __future__ import annotations

import copyseal.notices
from copyseal.errors import CopysealError


def test_public_names_are_pinned() -> None:
    assert sorted(copyseal.notices.__all__) == [
        "KINDS",
        "NoticeError",
        "NoticeRecord",
        "Sender",
        "list_notices",
        "load_sender",
        "mark_sent",
        "notice_path",
        "write_notice",
    ]
    assert sorted(copyseal.notices.KINDS) == ["dmca", "eu-dsa", "generic"]
    assert issubclass(copyseal.notices.NoticeError, CopysealError)
