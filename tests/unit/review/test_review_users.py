"""Accounts, Argon2id hashes, throttling, sessions and roles (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from copyseal.db.schema.review import LoginAttempt, User, WebSession
from copyseal.review.errors import AuthError, NotFound, PermissionDenied, ReviewError, Throttled
from copyseal.review.users import (
    ATTEMPT_RETENTION,
    MAX_FAILURES,
    PERMISSIONS,
    THROTTLE_WINDOW,
    add_user,
    authenticate,
    end_session,
    list_users,
    load_session,
    purge_attempts,
    require,
    set_password,
    start_session,
    update_user,
)
from copyseal.times import now
from copyseal.workspace import Workspace


def test_passwords_are_stored_as_argon2id_and_check(workspace: Workspace) -> None:
    add_user(workspace, name="ann", role="reviewer", password="s3cret-enough")
    with Session(workspace.engine) as s:
        stored = s.scalar(select(User.password_hash).where(User.name == "ann"))
    assert stored is not None and stored.startswith("$argon2id$") and "s3cret" not in stored
    user = authenticate(workspace, name="ann", password="s3cret-enough", remote="1.2.3.4")
    assert (user.name, user.role) == ("ann", "reviewer")
    with pytest.raises(AuthError, match="wrong name or password"):
        authenticate(workspace, name="ann", password="wrong-password", remote="1.2.3.4")
    with pytest.raises(AuthError, match="wrong name or password"):
        authenticate(workspace, name="nobody", password="s3cret-enough", remote="1.2.3.4")


def test_bad_accounts_are_refused(workspace: Workspace) -> None:
    with pytest.raises(ReviewError, match="unknown role"):
        add_user(workspace, name="bob", role="root", password="long-enough")
    with pytest.raises(ReviewError, match="at least 8"):
        add_user(workspace, name="bob", role="viewer", password="short")
    with pytest.raises(ReviewError, match="user name"):
        add_user(workspace, name="../bob", role="viewer", password="long-enough")
    add_user(workspace, name="bob", role="viewer", password="long-enough")
    with pytest.raises(ReviewError, match="exists already"):
        add_user(workspace, name="bob", role="admin", password="long-enough")
    assert [u.name for u in list_users(workspace)] == ["bob"]


def test_failed_logins_throttle_the_name(workspace: Workspace) -> None:
    add_user(workspace, name="cid", role="viewer", password="right-password")
    for _ in range(MAX_FAILURES):
        with pytest.raises(AuthError):
            authenticate(workspace, name="cid", password="guess", remote="10.0.0.1")
    with pytest.raises(Throttled, match="too many failed logins"):
        authenticate(workspace, name="cid", password="right-password", remote="10.0.0.2")


def test_sessions_start_load_expire_and_end(workspace: Workspace) -> None:
    user = add_user(workspace, name="dee", role="legal", password="right-password")
    token, info = start_session(workspace, user)
    loaded = load_session(workspace, token)
    assert loaded.user.name == "dee" and loaded.csrf_token == info.csrf_token
    with Session(workspace.engine) as s:
        stored = s.scalars(select(WebSession.token_hash)).all()
    assert token not in stored and len(stored) == 1  # only the token's hash is kept
    with pytest.raises(AuthError):
        load_session(workspace, token + "x")
    end_session(workspace, token)
    with pytest.raises(AuthError):
        load_session(workspace, token)
    token, _ = start_session(workspace, user)
    with Session(workspace.engine) as s, s.begin():
        s.execute(update(WebSession).values(expires_at=now() - timedelta(seconds=1)))
    with pytest.raises(AuthError, match="expired"):
        load_session(workspace, token)


def test_disabling_or_a_new_password_ends_sessions(workspace: Workspace) -> None:
    user = add_user(workspace, name="eve", role="reviewer", password="right-password")
    token, _ = start_session(workspace, user)
    update_user(workspace, "eve", disabled=True)
    with pytest.raises(AuthError):
        load_session(workspace, token)
    with pytest.raises(AuthError):
        authenticate(workspace, name="eve", password="right-password", remote="x")
    update_user(workspace, "eve", disabled=False, role="admin")
    token, _ = start_session(
        workspace, authenticate(workspace, name="eve", password="right-password", remote="x")
    )
    set_password(workspace, "eve", "another-password")
    with pytest.raises(AuthError):
        load_session(workspace, token)
    assert (
        authenticate(workspace, name="eve", password="another-password", remote="x").role == "admin"
    )
    with pytest.raises(NotFound):
        update_user(workspace, "nobody", role="viewer")


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("viewer", {"read"}),
        ("reviewer", {"read", "decide"}),
        ("legal", {"read", "cases", "export"}),
        ("admin", {"read", "decide", "cases", "export", "users", "targets"}),
    ],
)
def test_roles(role: str, allowed: set[str], people: Any) -> None:
    user = next(u for u in people.values() if u.role == role)
    assert {a for a in PERMISSIONS if user.can(a)} == allowed
    for action in set(PERMISSIONS) - allowed:
        words = {"users": "manage users", "targets": "manage crawl targets"}.get(action, action)
        with pytest.raises(PermissionDenied, match=f"may not {words}$"):
            require(user, action)


def _attempts(ws: Workspace, *ages: timedelta, name: str = "fay", ok: bool = False) -> None:
    at = now()
    with Session(ws.engine) as s, s.begin():
        s.add_all(
            LoginAttempt(name=name, remote="10.0.0.9", ok=ok, attempted_at=at - age) for age in ages
        )


def _ages(ws: Workspace) -> list[timedelta]:
    at = now()
    with Session(ws.engine) as s:
        times = s.scalars(select(LoginAttempt.attempted_at)).all()
    return sorted(at - (t if t.tzinfo else t.replace(tzinfo=UTC)) for t in times)


def test_old_login_attempts_are_purged(workspace: Workspace) -> None:
    day = timedelta(days=1)
    _attempts(workspace, 40 * day, 31 * day, 29 * day, 2 * day, timedelta(minutes=1))
    assert purge_attempts(workspace) == 2  # older than ATTEMPT_RETENTION (30 days)
    assert [a // day for a in _ages(workspace)] == [0, 2, 29]
    assert purge_attempts(workspace, older_than=day) == 2
    assert purge_attempts(workspace, older_than=day) == 0
    assert len(_ages(workspace)) == 1
    with pytest.raises(ReviewError, match="kept at least 15 minutes"):
        purge_attempts(workspace, older_than=THROTTLE_WINDOW - timedelta(seconds=1))


def test_a_successful_login_purges_attempts_past_retention(workspace: Workspace) -> None:
    add_user(workspace, name="fay", role="viewer", password="right-password")
    old = ATTEMPT_RETENTION + timedelta(hours=1)
    _attempts(workspace, old, old, ATTEMPT_RETENTION - timedelta(hours=1))
    with pytest.raises(AuthError):
        authenticate(workspace, name="fay", password="wrong-password", remote="10.0.0.9")
    assert len(_ages(workspace)) == 4  # a failure purges nothing
    authenticate(workspace, name="fay", password="right-password", remote="10.0.0.9")
    ages = _ages(workspace)
    assert len(ages) == 3 and max(ages) < ATTEMPT_RETENTION


def test_purging_never_lifts_throttling(workspace: Workspace) -> None:
    add_user(workspace, name="gus", role="viewer", password="right-password")
    for _ in range(MAX_FAILURES):
        with pytest.raises(AuthError):
            authenticate(workspace, name="gus", password="guess", remote="10.0.0.1")
    assert purge_attempts(workspace, older_than=THROTTLE_WINDOW) == 0
    with pytest.raises(Throttled):
        authenticate(workspace, name="gus", password="right-password", remote="10.0.0.2")


def test_roles_rules_no_self_demotion_and_never_zero_admins(workspace: Workspace) -> None:
    ann = add_user(workspace, name="ann", role="admin", password="right-password")
    add_user(workspace, name="bea", role="reviewer", password="right-password")
    for change in ({"role": "viewer"}, {"disabled": True}):
        with pytest.raises(ReviewError, match="cannot disable or demote yourself"):
            update_user(workspace, "ann", by=ann, **change)  # type: ignore[arg-type]
        # From the command line (no acting user) ann is still the last admin.
        with pytest.raises(ReviewError, match="ann is the last admin"):
            update_user(workspace, "ann", **change)  # type: ignore[arg-type]
    assert update_user(workspace, "ann", role="admin", by=ann).role == "admin"  # no change
    update_user(workspace, "bea", role="admin", by=ann)
    assert update_user(workspace, "ann", role="legal").role == "legal"  # bea is admin now
    with pytest.raises(ReviewError, match="bea is the last admin"):
        update_user(workspace, "bea", disabled=True)
    assert [(u.name, u.role) for u in list_users(workspace)] == [("ann", "legal"), ("bea", "admin")]


def test_two_admins_demoting_each_other_at_once_leave_one(workspace: Workspace) -> None:
    import threading

    admins = [
        add_user(workspace, name=n, role="admin", password="right-password") for n in ("cy", "di")
    ]
    start = threading.Barrier(2)
    errors: list[Exception] = []

    def demote(by: Any, other: str) -> None:
        start.wait()
        try:
            update_user(workspace, other, role="viewer", by=by)
        except Exception as e:
            errors.append(e)

    threads = [
        threading.Thread(target=demote, args=(admins[0], "di")),
        threading.Thread(target=demote, args=(admins[1], "cy")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    roles = [u.role for u in list_users(workspace)]
    assert roles.count("admin") == 1, (roles, errors)
    assert len(errors) == 1 and isinstance(errors[0], ReviewError), errors
