"""Accounts, roles, Argon2id passwords, login throttling and sessions.

Passwords are hashed with Argon2id (RFC 9106) through libsodium's ``crypto_pwhash``
(``nacl.pwhash.argon2id``). A session is a random token handed to the browser; only its
SHA-256 is stored, with the session's CSRF token and expiry. Every login attempt is
recorded before its password is checked, and failures delay further attempts per name and
per address (:mod:`~copyseal.review._throttle`), so password guessing is slow.
Attempts are kept :data:`ATTEMPT_RETENTION` (30 days) for audit, then deleted: on every
successful login, or with :func:`purge_attempts` (``copyseal users purge-attempts``).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import nacl.exceptions
import nacl.pwhash
from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from copyseal.db.schema.review import LoginAttempt, User, WebSession
from copyseal.review import _throttle
from copyseal.review.errors import AuthError, NotFound, PermissionDenied, ReviewError, Throttled
from copyseal.times import iso, now, utc
from copyseal.workspace import Workspace

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "SessionInfo",
    "UserRecord",
    "add_user",
    "authenticate",
    "end_session",
    "get_user",
    "list_users",
    "load_session",
    "purge_attempts",
    "require",
    "set_password",
    "start_session",
    "update_user",
]

#: The roles, from least to most trusted.
ROLES: Final = ("viewer", "reviewer", "legal", "admin")
#: Which roles may do what. Everyone with an account may read.
PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "read": frozenset(ROLES),
    "decide": frozenset({"reviewer", "admin"}),
    "cases": frozenset({"legal", "admin"}),
    "export": frozenset({"legal", "admin"}),
    "users": frozenset({"admin"}),
    "targets": frozenset({"admin"}),
}
#: How long a session lasts without logging in again.
SESSION_LIFETIME: Final = timedelta(hours=12)
#: Throttling: failures for a name within the window before delays start (per address:
#: ``_throttle.ADDRESS_FREE``); the delays are in :mod:`copyseal.review._throttle`.
MAX_FAILURES: Final = _throttle.NAME_FREE
THROTTLE_WINDOW: Final = _throttle.WINDOW
#: Login attempts older than this are deleted. Throttling needs only THROTTLE_WINDOW; the
#: rest is an audit trail of who tried to log in, from where, when (e.g. a guessing run).
ATTEMPT_RETENTION: Final = timedelta(days=30)
MIN_PASSWORD_LENGTH: Final = 8
#: Argon2id cost (libsodium's "interactive" level: 2 passes over 64 MiB).
OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-")
# Verified against when the name is unknown, so a wrong name costs as much as a wrong password.
_DUMMY_HASH: bytes | None = None


@dataclass(frozen=True, kw_only=True)
class UserRecord:
    """An account as the app and the CLI show it (never the hash)."""

    user_id: int
    name: str
    role: str
    created_at: datetime
    disabled_at: datetime | None = None

    @classmethod
    def from_row(cls, row: User) -> UserRecord:
        return cls(
            user_id=row.id,
            name=row.name,
            role=row.role,
            created_at=utc(row.created_at),
            disabled_at=None if row.disabled_at is None else utc(row.disabled_at),
        )

    def can(self, action: str) -> bool:
        """Whether this user's role allows ``action`` (a key of :data:`PERMISSIONS`)."""
        return self.disabled_at is None and self.role in PERMISSIONS.get(action, frozenset())

    def to_json(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "name": self.name,
            "role": self.role,
            "created_at": iso(self.created_at),
            "disabled": self.disabled_at is not None,
        }


@dataclass(frozen=True, kw_only=True)
class SessionInfo:
    """A live session: who, and the CSRF token every form of the session must carry."""

    user: UserRecord
    csrf_token: str
    expires_at: datetime


#: How a refused action reads in an error message.
_ACTION_WORDS: Final = {"targets": "manage crawl targets", "users": "manage users"}


def require(user: UserRecord, action: str) -> None:
    """Raise :class:`PermissionDenied` unless ``user`` may do ``action``."""
    if not user.can(action):
        what = _ACTION_WORDS.get(action, action)
        raise PermissionDenied(f"{user.name} ({user.role}) may not {what}")


def _hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ReviewError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    hashed = nacl.pwhash.argon2id.str(
        password.encode("utf-8"), opslimit=OPSLIMIT, memlimit=MEMLIMIT
    )
    return hashed.decode("ascii")


def _check_password(stored: str | None, password: str) -> bool:
    global _DUMMY_HASH
    if stored is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = nacl.pwhash.argon2id.str(
                secrets.token_bytes(16), opslimit=OPSLIMIT, memlimit=MEMLIMIT
            )
        stored_bytes = _DUMMY_HASH
    else:
        stored_bytes = stored.encode("ascii")
    try:
        ok = nacl.pwhash.verify(stored_bytes, password.encode("utf-8"))
    except (nacl.exceptions.InvalidkeyError, nacl.exceptions.CryptPrefixError):
        return False
    return bool(ok) and stored is not None


def _check_name(name: str) -> str:
    if not 0 < len(name) <= 64 or not set(name) <= _NAME_CHARS:
        raise ReviewError(f"user name {name!r}: 1-64 letters, digits, '.', '_', '@' or '-'")
    return name


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ReviewError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    return role


def add_user(ws: Workspace, *, name: str, role: str, password: str) -> UserRecord:
    """Create an account.

    Raises:
        ReviewError: bad name, unknown role, short password, or the name is taken.
    """
    row = User(
        name=_check_name(name),
        role=_check_role(role),
        password_hash=_hash_password(password),
        created_at=now(),
    )
    try:
        with Session(ws.engine) as s, s.begin():
            s.add(row)
            s.flush()
            return UserRecord.from_row(row)
    except IntegrityError as e:
        raise ReviewError(f"user {name!r} exists already") from e


def list_users(ws: Workspace) -> list[UserRecord]:
    """Every account, by name."""
    with Session(ws.engine) as s:
        return [UserRecord.from_row(r) for r in s.scalars(select(User).order_by(User.name))]


def get_user(ws: Workspace, name: str) -> UserRecord:
    """One account by name (:class:`NotFound` if none)."""
    with Session(ws.engine) as s:
        row = s.scalar(select(User).where(User.name == name))
        if row is None:
            raise NotFound(f"no user {name!r}")
        return UserRecord.from_row(row)


def update_user(
    ws: Workspace,
    name: str,
    *,
    role: str | None = None,
    disabled: bool | None = None,
    by: UserRecord | None = None,
) -> UserRecord:
    """Change an account's role or disable/enable it; disabling ends its sessions.

    The one place the rules on roles are applied (web form, JSON API and CLI alike): an
    admin (``by``, None for the command line) cannot demote or disable themselves, and
    the last enabled admin cannot be demoted or disabled, so the app always has someone
    who can manage users.

    Raises:
        NotFound: no such account.
        ReviewError: an unknown role, or the change breaks a rule above.
    """
    if role is not None:
        _check_role(role)
    if by is not None and by.name == name and (disabled or role not in (None, "admin")):
        raise ReviewError("you cannot disable or demote yourself")
    with Session(ws.engine) as s, s.begin():
        # Two admins demoting each other at once must not leave none: the admins are
        # read under a lock. PostgreSQL: SELECT ... FOR UPDATE. SQLite ignores FOR UPDATE
        # and pysqlite begins a transaction only at the first write, so a no-op write
        # first takes SQLite's single write lock before anything is read.
        if ws.engine.dialect.name == "sqlite":
            s.execute(update(User).where(User.name == name).values(role=User.role))
        admins = s.scalars(
            select(User)
            .where(User.role == "admin", User.disabled_at.is_(None))
            .order_by(User.id)
            .with_for_update()
        ).all()
        row = s.scalar(select(User).where(User.name == name))
        if row is None:
            raise NotFound(f"no user {name!r}")
        stays_admin = (role or row.role) == "admin" and not (
            disabled if disabled is not None else row.disabled_at is not None
        )
        if row in admins and not stays_admin and len(admins) == 1:
            raise ReviewError(f"{name} is the last admin; make another admin first")
        if role is not None:
            row.role = role
        if disabled is not None:
            row.disabled_at = (row.disabled_at or now()) if disabled else None
            if disabled:
                s.execute(delete(WebSession).where(WebSession.user_id == row.id))
        s.flush()
        return UserRecord.from_row(row)


def set_password(ws: Workspace, name: str, password: str) -> None:
    """Set a new password and end the account's sessions."""
    with Session(ws.engine) as s, s.begin():
        row = s.scalar(select(User).where(User.name == name))
        if row is None:
            raise NotFound(f"no user {name!r}")
        row.password_hash = _hash_password(password)
        s.execute(delete(WebSession).where(WebSession.user_id == row.id))


def authenticate(ws: Workspace, *, name: str, password: str, remote: str) -> UserRecord:
    """Check a name and password; every attempt is recorded (see
    :mod:`copyseal.review._throttle` for the delays and why they cannot be raced).

    Raises:
        Throttled: the name or the address must wait (``retry_after`` seconds) after its
            recent failures; the password was not checked.
        AuthError: wrong name or password, or a disabled account (one message for all).
    """
    name, remote = name[:64], remote[:64]
    at = now()
    # Recorded and committed as a failure first, so a concurrent attempt counts it.
    with Session(ws.engine) as s, s.begin():
        attempt = LoginAttempt(name=name, remote=remote, ok=False, throttled=False, attempted_at=at)
        s.add(attempt)
        s.flush()
        attempt_id = attempt.id
    with Session(ws.engine) as s:
        wait = _throttle.wait_for(s, attempt_id=attempt_id, name=name, remote=remote, at=at)
    if wait > 0:
        _finish_attempt(ws, attempt_id, throttled=True)
        seconds = math.ceil(wait)
        raise Throttled(
            f"too many failed logins; try again in {seconds} s", retry_after=float(seconds)
        )
    with Session(ws.engine) as s:
        row = s.scalar(select(User).where(User.name == name))
        record = UserRecord.from_row(row) if row is not None else None
        stored = None if row is None else row.password_hash
    ok = _check_password(stored, password)
    ok = ok and record is not None and record.disabled_at is None
    if ok:
        _finish_attempt(ws, attempt_id, ok=True, purge_before=at - ATTEMPT_RETENTION)
    if not ok or record is None:
        raise AuthError("wrong name or password")
    return record


def _finish_attempt(
    ws: Workspace,
    attempt_id: int,
    *,
    ok: bool = False,
    throttled: bool = False,
    purge_before: datetime | None = None,
) -> None:
    with Session(ws.engine) as s, s.begin():
        s.execute(
            update(LoginAttempt)
            .where(LoginAttempt.id == attempt_id)
            .values(ok=ok, throttled=throttled)
        )
        if purge_before is not None:
            # Opportunistic purge on success: cheap (an index range on attempted_at) and
            # frequent enough, so the table holds about ATTEMPT_RETENTION of attempts.
            _delete_attempts(s, purge_before)


def _delete_attempts(s: Session, before: datetime) -> int:
    done = s.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at < before))
    assert isinstance(done, CursorResult)  # a DELETE's result has a row count
    return int(done.rowcount)


def purge_attempts(ws: Workspace, *, older_than: timedelta = ATTEMPT_RETENTION) -> int:
    """Delete login attempts older than ``older_than``; returns how many.

    Raises:
        ReviewError: ``older_than`` is shorter than the throttling window (purging the
            failures that throttle a guesser would let the guessing go on).
    """
    if older_than < THROTTLE_WINDOW:
        minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
        raise ReviewError(f"login attempts are kept at least {minutes} minutes (throttling)")
    with Session(ws.engine) as s, s.begin():
        return _delete_attempts(s, now() - older_than)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(ws: Workspace, user: UserRecord) -> tuple[str, SessionInfo]:
    """A new session for ``user``: the secret token (for the cookie) and its info."""
    token = secrets.token_urlsafe(32)
    at = now()
    info = SessionInfo(
        user=user, csrf_token=secrets.token_urlsafe(32), expires_at=at + SESSION_LIFETIME
    )
    with Session(ws.engine) as s, s.begin():
        s.execute(delete(WebSession).where(WebSession.expires_at < at))
        s.add(
            WebSession(
                token_hash=_token_hash(token),
                user_id=user.user_id,
                csrf_token=info.csrf_token,
                created_at=at,
                expires_at=info.expires_at,
            )
        )
    return token, info


def load_session(ws: Workspace, token: str) -> SessionInfo:
    """The live session for ``token``.

    Raises:
        AuthError: unknown, expired, or its account disabled.
    """
    with Session(ws.engine) as s:
        row = s.get(WebSession, _token_hash(token))
        if row is None or utc(row.expires_at) <= now():
            raise AuthError("not logged in (no session or session expired)")
        user = s.get(User, row.user_id)
        if user is None or user.disabled_at is not None:
            raise AuthError("account disabled")
        return SessionInfo(
            user=UserRecord.from_row(user),
            csrf_token=row.csrf_token,
            expires_at=utc(row.expires_at),
        )


def end_session(ws: Workspace, token: str) -> None:
    """Log out: forget the session (nothing happens for an unknown token)."""
    with Session(ws.engine) as s, s.begin():
        s.execute(delete(WebSession).where(WebSession.token_hash == _token_hash(token)))
