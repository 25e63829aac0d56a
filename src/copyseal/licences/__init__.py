"""The licence registry: who may use a work, where and when, and whether a found use is
covered.

``grant`` and ``revoke`` (``copyseal licences``) and ``import_sale`` (the market's sales)
append signed statements to the ledger and keep each licence's state in ``licences``;
``classify`` decides whether a use of a work on a page at a time is licensed. A crawl
classifies every match it stores: a licensed match is decided ``licensed`` by copyseal
itself, naming the licence, and never enters the review queue as ``new``.
"""

from __future__ import annotations

from copyseal.licences._classify import classify, load_index, settle_job
from copyseal.licences._model import LicenceError, LicenceRecord, Verdict
from copyseal.licences._registry import get, grant, import_sale, instant, list_licences, revoke
from copyseal.licences._rules import LicenceIndex

__all__ = [
    "LicenceError",
    "LicenceIndex",
    "LicenceRecord",
    "Verdict",
    "classify",
    "get",
    "grant",
    "import_sale",
    "instant",
    "list_licences",
    "load_index",
    "revoke",
    "settle_job",
]
