"""Accounts, Argon2id hashes, throttling, sessions and roles (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from copyseal.review._tables import User, WebSession
from copyseal.review._util import now
from copyseal.review.errors import AuthError, NotFound, PermissionDenied, ReviewError, Throttled
from copyseal.review.users import (
    MAX_FAILURES,
    PERMISSIONS,
    add_user,
    authenticate,
    end_session,
    list_users,
    load_session,
    require,
    set_password,
    start_session,
    update_user,
)
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
