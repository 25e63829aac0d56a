"""Structured logging: human lines on stderr, JSON lines in a rotating workspace file."""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["configure_logging"]

# Attributes every LogRecord has; anything else came in through ``extra=`` and is data.
_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message and any extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


class _HumanFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{k}={v}"
            for k, v in vars(record).items()
            if k not in _STANDARD and not k.startswith("_")
        )
        text = f"{record.levelname.lower()}: {record.getMessage()}"
        return f"{text} [{extras}]" if extras else text


def configure_logging(
    *, level: str, file: Path | None, max_bytes: int, backups: int, debug: bool
) -> None:
    """Send copyseal's logs to stderr (warnings up, or everything with ``debug``) and a file."""
    root = logging.getLogger("copyseal")
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.setLevel(logging.DEBUG if debug else getattr(logging, level))
    root.propagate = False
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.DEBUG if debug else logging.WARNING)
    stderr.setFormatter(_HumanFormatter())
    root.addHandler(stderr)
    if file is not None:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
            )
        except OSError as e:
            root.warning("cannot write the log file %s: %s", file, e.strerror)
        else:
            handler.setFormatter(JsonFormatter())
            root.addHandler(handler)
