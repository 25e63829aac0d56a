"""Takedown notices written from a case's facts (``copyseal cases notice``), and their
sending recorded in the ledger (``copyseal cases notice-sent``).

Kinds (:data:`KINDS`): ``dmca`` (17 U.S.C. §512(c)(3)), ``eu-dsa`` (Regulation (EU)
2022/2065, art. 16) and ``generic``; the sender comes from a sender file
(:func:`load_sender`).
"""

from copyseal.notices._kinds import KINDS
from copyseal.notices.sender import NoticeError, Sender, load_sender
from copyseal.notices.service import (
    NoticeRecord,
    list_notices,
    mark_sent,
    notice_path,
    write_notice,
)

__all__ = [
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
