"""Appends batches to a ledger until killed (driven by test_store's crash tests).

Usage: python _crash_child.py DATABASE_URL MODE, MODE one of:
- ``between``: append 3 batches, print ``committed N`` after each, then sleep (idle).
- ``mid-batch``: append 3 batches, then pause inside the 4th batch's transaction, just
  before its checkpoint is inserted, printing ``mid-batch N``.
- ``loop``: append batches forever, printing ``committed N`` after each.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from nacl.signing import SigningKey
from sqlalchemy import event

from copyseal.db.session import create_engine
from copyseal.ledger import Ledger

BATCH = 500
KEY = SigningKey(b"\x42" * 32)
ORIGIN = "copyseal.test/crash"


def main() -> None:
    url, mode = sys.argv[1], sys.argv[2]
    engine = create_engine(url)
    ledger = Ledger(engine=engine, origin=ORIGIN, signing_key=KEY)
    done = {"batches": 0}

    if mode == "mid-batch":

        def pause(_conn: Any, _cur: Any, statement: str, *_: Any) -> None:
            if statement.startswith("INSERT INTO ledger_checkpoints") and done["batches"] >= 3:
                print(f"mid-batch {done['batches'] * BATCH}", flush=True)
                time.sleep(120)

        event.listen(engine, "before_cursor_execute", pause)

    while True:
        start = ledger.size()
        ledger.append([("test", b"leaf %d" % (start + i)) for i in range(BATCH)])
        done["batches"] += 1
        print(f"committed {start + BATCH}", flush=True)
        if mode == "between" and done["batches"] >= 3:
            time.sleep(120)


if __name__ == "__main__":
    main()
