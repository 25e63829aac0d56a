"""The workspace's Ed25519 signing key: creation, loading and the public half.

The key file holds the 32-byte Ed25519 seed in base64 on one line; it is created with
mode 0600 (never wider, never logged). The public key sits beside it as ``<name>.pub``
(base64 of the 32-byte public key).
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

from nacl.signing import SigningKey, VerifyKey

from copyseal.errors import WorkspaceError

__all__ = ["create_signing_key", "load_signing_key", "load_verify_key", "public_key_path"]


def public_key_path(key_path: Path) -> Path:
    """Where the public half of the key at ``key_path`` lives."""
    return key_path.with_suffix(".pub")


def create_signing_key(key_path: Path) -> SigningKey:
    """Create a fresh key at ``key_path`` (mode 0600) and its ``.pub`` beside it.

    Refuses to overwrite an existing key: evidence signed by it would become unverifiable.
    """
    if not key_path.parent.exists():
        key_path.parent.mkdir(mode=0o700, parents=True)
    key = SigningKey.generate()
    seed = base64.b64encode(bytes(key)).decode("ascii") + "\n"
    try:
        # O_EXCL: never replace a key; mode given at creation so it is never readable by others.
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        raise WorkspaceError(
            f"{key_path}: a signing key already exists; refusing to replace it"
        ) from e
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(seed)
    os.chmod(key_path, 0o600)  # in case the umask or filesystem widened it
    pub = base64.b64encode(bytes(key.verify_key)).decode("ascii") + "\n"
    public_key_path(key_path).write_text(pub, encoding="ascii")
    return key


def load_signing_key(key_path: Path) -> SigningKey:
    """Load the signing key at ``key_path``; refuses a key readable by group or others."""
    try:
        mode = key_path.stat().st_mode
        text = key_path.read_text(encoding="ascii").strip()
    except OSError as e:
        raise WorkspaceError(f"{key_path}: cannot read the signing key ({e.strerror})") from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise WorkspaceError(
            f"{key_path}: signing key is accessible by other users (mode {stat.S_IMODE(mode):o});"
            " run chmod 600 on it"
        )
    try:
        seed = base64.b64decode(text, validate=True)
        if len(seed) != 32:
            raise ValueError("not 32 bytes")
        return SigningKey(seed)
    except ValueError as e:
        # Never echo the file's content: it is a secret.
        raise WorkspaceError(f"{key_path}: not a copyseal signing key") from e


def load_verify_key(pub_path: Path) -> VerifyKey:
    """Load a public key written by :func:`create_signing_key`."""
    try:
        raw = base64.b64decode(pub_path.read_text(encoding="ascii").strip(), validate=True)
        if len(raw) != 32:
            raise ValueError("not 32 bytes")
    except (OSError, ValueError) as e:
        raise WorkspaceError(f"{pub_path}: not a copyseal public key ({e})") from e
    return VerifyKey(raw)
