"""Login throttling: progressive delays per name and per address, race-free.

**Policy.** The first :data:`NAME_FREE` failures for a name (from any address) within
:data:`WINDOW` cost nothing; after that each attempt must come at least
``2 ** (failures - NAME_FREE)`` seconds after the newest failure, at most
:data:`NAME_CAP`. The same holds per address with :data:`ADDRESS_FREE` free failures and
at most :data:`ADDRESS_CAP`. So a guesser gets a few tries, then one per minute on a
name (whichever address they come from) and ever fewer from one address; and since the
name's delay is capped at a minute and refused attempts do not count as failures, nobody
can lock an account by failing on purpose: its owner, from an address with no failures
of its own, waits at most :data:`NAME_CAP`. This is the exponential back-off OWASP's
Authentication Cheat Sheet recommends over account lock-out ("Account Lockout").

**No race.** An attempt is recorded (as a failure) and committed *before* the delay is
computed and the password checked, and the delay counts every recorded failure but the
attempt's own. Of two concurrent attempts the one that counts second sees the other, so N
parallel attempts check at most as many passwords as the limit allows one by one (the
database is the shared state, so this holds across processes too). Attempts refused by
the delay are kept, marked ``throttled`` (an audit trail), but count for nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from copyseal.db.schema.review import LoginAttempt
from copyseal.times import utc

__all__ = ["ADDRESS_CAP", "ADDRESS_FREE", "NAME_CAP", "NAME_FREE", "WINDOW", "backoff", "wait_for"]

#: Failures older than this are forgotten.
WINDOW: Final = timedelta(minutes=15)
#: Failures for one name, from any address, before delays start; the longest delay.
NAME_FREE: Final = 5
NAME_CAP: Final = timedelta(minutes=1)
#: Failures from one address, for any names, before delays start; the longest delay.
ADDRESS_FREE: Final = 20
ADDRESS_CAP: Final = timedelta(minutes=15)


def backoff(failures: int, *, free: int, cap: timedelta) -> timedelta:
    """The delay after ``failures`` failures: none for the first ``free``, then 1 s
    doubling with each further failure, at most ``cap``."""
    if failures < free:
        return timedelta(0)
    exponent = min(failures - free, 30)  # 2**30 s is past any cap
    return min(cap, timedelta(seconds=2**exponent))


def _wait(
    s: Session,
    at: datetime,
    attempt_id: int,
    match: ColumnElement[bool],
    *,
    free: int,
    cap: timedelta,
) -> float:
    """Seconds still to wait by the failures ``match`` selects (0: none)."""
    count, newest = s.execute(
        select(func.count(), func.max(LoginAttempt.attempted_at)).where(
            match,
            LoginAttempt.ok.is_(False),
            LoginAttempt.throttled.is_(False),
            LoginAttempt.attempted_at >= at - WINDOW,
            LoginAttempt.id != attempt_id,
        )
    ).one()
    delay = backoff(int(count or 0), free=free, cap=cap)
    if not delay or newest is None:
        return 0.0
    return max(0.0, (utc(newest) + delay - at).total_seconds())


def wait_for(s: Session, *, attempt_id: int, name: str, remote: str, at: datetime) -> float:
    """Seconds the attempt ``attempt_id`` (already recorded) must still wait (0: none)."""
    return max(
        _wait(s, at, attempt_id, LoginAttempt.name == name, free=NAME_FREE, cap=NAME_CAP),
        _wait(s, at, attempt_id, LoginAttempt.remote == remote, free=ADDRESS_FREE, cap=ADDRESS_CAP),
    )
