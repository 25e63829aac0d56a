"""Who sends a takedown notice: the sender file (YAML, or JSON, which is YAML too).

Keys: ``name``, ``address``, ``email`` (required: a DMCA notice needs contact information,
17 U.S.C. §512(c)(3)(A)(iv), and a DSA notice the notifier's name and email, Regulation
(EU) 2022/2065 art. 16(2)(c)); ``on_behalf_of`` (the rights holder the sender acts for;
default: the works' owners), ``phone`` and ``signature`` (the electronic signature,
default ``/NAME/``) are optional.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from copyseal.errors import CopysealError

__all__ = ["REQUIRED", "NoticeError", "Sender", "load_sender"]

#: The keys a sender file must have, each a non-empty string.
REQUIRED = ("name", "address", "email")
_OPTIONAL = ("on_behalf_of", "phone", "signature")


class NoticeError(CopysealError):
    """A notice could not be written or marked sent (the message says which input and why)."""


@dataclass(frozen=True, kw_only=True)
class Sender:
    """The person or firm sending a notice, and for whom."""

    name: str
    address: str
    email: str
    on_behalf_of: str | None = None
    phone: str | None = None
    signature: str | None = None

    @property
    def signed(self) -> str:
        """The electronic signature: as given, else ``/NAME/``."""
        return self.signature or f"/{self.name}/"


def load_sender(path: Path) -> Sender:
    """Read a sender file.

    Raises:
        NoticeError: the file cannot be read or parsed, is not a mapping, lacks a required
            key (each named), or has an unknown key or a value that is not text.
    """
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise NoticeError(f"sender file {path}: cannot be read ({e})") from e
    if not isinstance(data, dict):
        raise NoticeError(f"sender file {path}: must be a mapping of {', '.join(REQUIRED)}")
    unknown = sorted(str(k) for k in data if k not in REQUIRED + _OPTIONAL)
    if unknown:
        raise NoticeError(f"sender file {path}: unknown key(s) {', '.join(unknown)}")
    missing = [k for k in REQUIRED if not str(data.get(k) or "").strip()]
    if missing:
        raise NoticeError(f"sender file {path}: missing {', '.join(missing)}")
    values: dict[str, str | None] = {}
    for key in REQUIRED + _OPTIONAL:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise NoticeError(f"sender file {path}: {key} must be text")
        values[key] = " ".join(value.split()) if key != "address" and value else value
    if "@" not in (values["email"] or "").strip("@"):
        raise NoticeError(f"sender file {path}: email {values['email']!r} is not an address")
    address = (values["address"] or "").strip()
    return Sender(
        name=values["name"] or "",
        address=address,
        email=values["email"] or "",
        on_behalf_of=values["on_behalf_of"] or None,
        phone=values["phone"] or None,
        signature=values["signature"] or None,
    )
