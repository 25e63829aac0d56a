"""Crawl targets managed in the database (by admins in the review app), beside config's.

A workspace has two sources of targets: ``crawl.targets`` (and ``crawl.schedules``) in
``config.yaml``, read-only here, and the ``crawl_targets`` table, which admins edit in the
review app or over its API. The two share one namespace: a database target may not take
the name of a configured target or schedule. A database target may carry its own
schedule (a cron expression in UTC), run by ``copyseal scheduler`` under the target's
name, exactly like a configured schedule.

:func:`effective_settings` gives the workspace's settings with the database targets and
their schedules merged in: everything that resolves a target name (``copyseal crawl
NAME``, ``copyseal schedule``, the scheduler, the dashboard) reads it, so a target added
in the app is crawlable at once, and a running scheduler picks up changes at its next
tick. Every change is recorded in ``crawl_target_events`` (who, when, the result).

Database targets are stricter than configured ones, because the people who edit them
need not have shell access: start URLs must be ``http``/``https`` URLs (never files on the
server), the spider must be one that exists, and they can never allow private networks
(``allow_private``): aiming the crawler at internal addresses is for ``config.yaml`` and
the command line only (``--allow-private``, ``--allow-network``). A row saved with
``allow_private: true`` before this rule is read with it false, and a warning is logged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy import delete, insert, select, update

from copyseal import times
from copyseal.config import CrawlSchedule, CrawlTarget, Settings
from copyseal.crawl._spec import BUILTIN_SPIDERS
from copyseal.db.schema.crawl import AppTarget, CrawlJob, TargetEvent
from copyseal.db.sql import insert_or_ignore
from copyseal.errors import CopysealError, CrawlError
from copyseal.workspace import Workspace

__all__ = [
    "TargetEventRecord",
    "TargetInfo",
    "effective_settings",
    "get_target",
    "known_spiders",
    "list_targets",
    "remove_target",
    "save_target",
    "target_events",
    "target_jobs",
]

log = logging.getLogger(__name__)

_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True, kw_only=True)
class TargetInfo:
    """A target of either source, with its schedule (if any) and who last changed it."""

    name: str
    #: ``config`` (config.yaml, read-only in the app) or ``app`` (the database).
    source: str
    target: CrawlTarget
    schedule: CrawlSchedule | None = None
    #: The name of the schedule above (a configured schedule may have any name).
    schedule_name: str | None = None
    version: int | None = None
    created_at: datetime | None = None
    created_by: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "editable": self.source == "app",
            "target": self.target.model_dump(mode="json"),
            "schedule": None
            if self.schedule is None
            else {"name": self.schedule_name, **self.schedule.model_dump(mode="json")},
            "version": self.version,
            "created_at": times.iso(self.created_at),
            "created_by": self.created_by,
            "updated_at": times.iso(self.updated_at),
            "updated_by": self.updated_by,
        }


@dataclass(frozen=True, kw_only=True)
class TargetEventRecord:
    """One recorded change of a database target."""

    id: int
    name: str
    action: str
    actor: str
    at: datetime
    definition: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "action": self.action,
            "actor": self.actor,
            "at": times.iso(self.at),
            "definition": self.definition,
        }


def _schedule_of(row: Any) -> CrawlSchedule | None:
    if not row.cron:
        return None
    return CrawlSchedule(
        target=row.name,
        cron=row.cron,
        revisit_matches=bool(row.revisit_matches),
        enabled=bool(row.schedule_enabled),
    )


def _info(row: Any) -> TargetInfo:
    try:
        target = CrawlTarget.model_validate(json.loads(row.definition))
    except (ValueError, ValidationError) as e:
        raise CrawlError(f"crawl target {row.name!r} in the database is not valid: {e}") from e
    if target.allow_private:
        log.warning(
            "crawl target %r: allow_private in the database is ignored (only config.yaml"
            " and the command line may allow private networks)",
            row.name,
        )
        target = target.model_copy(update={"allow_private": False})
    schedule = _schedule_of(row)
    return TargetInfo(
        name=row.name,
        source="app",
        target=target,
        schedule=schedule,
        schedule_name=row.name if schedule else None,
        version=row.version,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def _rows(ws: Workspace) -> list[Any]:
    with ws.engine.connect() as conn:
        return list(conn.execute(select(AppTarget).order_by(AppTarget.name)))


def list_targets(ws: Workspace) -> list[TargetInfo]:
    """Every target, configured ones first, each source sorted by name."""
    crawl = ws.settings.crawl
    schedules = {s.target: (n, s) for n, s in sorted(crawl.schedules.items())}
    out = [
        TargetInfo(
            name=name,
            source="config",
            target=t,
            schedule=schedules[name][1] if name in schedules else None,
            schedule_name=schedules[name][0] if name in schedules else None,
        )
        for name, t in sorted(crawl.targets.items())
    ]
    return out + [_info(r) for r in _rows(ws)]


def get_target(ws: Workspace, name: str) -> TargetInfo:
    """One target by name (either source).

    Raises:
        CrawlError: no such target.
    """
    for info in list_targets(ws):
        if info.name == name:
            return info
    raise CrawlError(f"no crawl target {name!r}")


def effective_settings(ws: Workspace) -> Settings:
    """The workspace's settings with the database targets and their schedules added to
    ``crawl.targets`` and ``crawl.schedules`` (configured entries win on a name clash,
    which :func:`save_target` prevents)."""
    settings = ws.settings
    rows = _rows(ws)
    if not rows:
        return settings
    targets = dict(settings.crawl.targets)
    schedules = dict(settings.crawl.schedules)
    for row in rows:
        if row.name in targets or row.name in schedules:
            continue
        info = _info(row)
        targets[row.name] = info.target
        if info.schedule is not None:
            schedules[row.name] = info.schedule
    crawl = settings.crawl.model_copy(update={"targets": targets, "schedules": schedules})
    return settings.model_copy(update={"crawl": crawl})


def known_spiders(settings: Settings) -> list[str]:
    """The built-in spiders and the site-specific ones of the spiders folder."""
    from copyseal.crawl._runner import load_spiders, spiders_dir

    names = set(BUILTIN_SPIDERS)
    # A broken or missing spiders folder leaves the built-in ones.
    with contextlib.suppress(CopysealError):
        names.update(load_spiders(spiders_dir(settings)))
    return sorted(names)


def _validated(
    ws: Workspace, name: str, fields: Mapping[str, Any], cron: str | None
) -> tuple[CrawlTarget, str | None]:
    if not _NAME.fullmatch(name) or name == "new":
        raise CrawlError(
            f"target name {name!r}: 1-64 letters, digits, '.', '_' or '-', starting with a"
            " letter or digit (not 'new')"
        )
    try:
        target = CrawlTarget.model_validate(dict(fields))
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'target'}: {err['msg']}"
            for err in e.errors()
        )
        raise CrawlError(f"crawl target {name!r}: {problems}") from e
    if target.allow_private:
        raise CrawlError(
            f"crawl target {name!r}: allow_private cannot be set here; only config.yaml and"
            " the command line (--allow-private, --allow-network CIDR) may allow private"
            " networks"
        )
    for url in target.urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CrawlError(f"crawl target {name!r}: start URL {url!r} is not an http(s) URL")
    spiders = known_spiders(ws.settings)
    if target.spider not in spiders:
        raise CrawlError(
            f"crawl target {name!r}: unknown spider {target.spider!r} ({', '.join(spiders)})"
        )
    if cron is not None and cron.strip():
        try:
            cron = CrawlSchedule(target=name, cron=cron).cron
        except ValidationError as e:
            raise CrawlError(f"crawl target {name!r}: cron {cron!r}: {e.errors()[0]['msg']}") from e
    else:
        cron = None
    return target, cron


def _definition(target: CrawlTarget, row: Mapping[str, Any]) -> str:
    return json.dumps(
        {
            "target": target.model_dump(mode="json"),
            "schedule": {
                "cron": row["cron"],
                "revisit_matches": row["revisit_matches"],
                "enabled": row["schedule_enabled"],
            },
            "version": row["version"],
        },
        sort_keys=True,
    )


def save_target(
    ws: Workspace,
    *,
    name: str,
    fields: Mapping[str, Any],
    actor: str,
    cron: str | None = None,
    revisit_matches: bool = False,
    schedule_enabled: bool = True,
    create: bool,
    expected_version: int | None = None,
) -> TargetInfo:
    """Add (``create``) or replace a database target, and record the change.

    ``fields`` are the keys of a ``crawl.targets`` entry (``urls``, ``spider``, ...).
    ``expected_version`` (an update from a form) refuses the change when someone else
    changed the target since the form was shown.

    Raises:
        CrawlError: a bad name or field, a name taken (by config or, on create, by another
            database target), no such target (update), or a concurrent change.
    """
    crawl = ws.settings.crawl
    if name in crawl.targets or name in crawl.schedules:
        raise CrawlError(
            f"{name!r} is configured in config.yaml (crawl.targets/crawl.schedules);"
            " edit it there, or choose another name"
        )
    target, cron = _validated(ws, name, fields, cron)
    now = times.now()
    values: dict[str, Any] = {
        "definition": json.dumps(target.model_dump(mode="json"), sort_keys=True),
        "cron": cron,
        "revisit_matches": bool(revisit_matches),
        "schedule_enabled": bool(schedule_enabled),
        "updated_at": now,
        "updated_by": actor,
    }
    with ws.engine.begin() as conn:
        existing = conn.execute(select(AppTarget).where(AppTarget.name == name)).first()
        if create:
            taken = CrawlError(f"a crawl target named {name!r} exists already")
            if existing is not None:
                raise taken
            values.update(name=name, version=1, created_at=now, created_by=actor)
            # Skipped if another writer took the name since the read above.
            if not insert_or_ignore(
                conn, AppTarget, values, index_elements=["name"], returning=[AppTarget.name]
            ):
                raise taken
            action = "created"
        else:
            if existing is None:
                raise CrawlError(f"no crawl target {name!r} in the database")
            if expected_version is not None and existing.version != expected_version:
                raise CrawlError(
                    f"crawl target {name!r} was changed by {existing.updated_by} since"
                    f" (version {existing.version}, not {expected_version}); reload and retry"
                )
            values["version"] = existing.version + 1
            done = conn.execute(
                update(AppTarget)
                .where(AppTarget.name == name, AppTarget.version == existing.version)
                .values(**values)
            )
            if done.rowcount != 1:
                raise CrawlError(f"crawl target {name!r} changed meanwhile; reload and retry")
            action = "updated"
        conn.execute(
            insert(TargetEvent).values(
                name=name,
                action=action,
                actor=actor,
                at=now,
                definition=_definition(target, values),
            )
        )
    return get_target(ws, name)


def remove_target(ws: Workspace, *, name: str, actor: str) -> None:
    """Remove a database target (its crawl jobs, matches and evidence stay), recorded.

    Raises:
        CrawlError: a configured target, or no such target.
    """
    if name in ws.settings.crawl.targets:
        raise CrawlError(f"{name!r} is configured in config.yaml; remove it there")
    with ws.engine.begin() as conn:
        row = conn.execute(select(AppTarget).where(AppTarget.name == name)).first()
        if row is None:
            raise CrawlError(f"no crawl target {name!r} in the database")
        target = _info(row).target
        conn.execute(delete(AppTarget).where(AppTarget.name == name))
        conn.execute(
            insert(TargetEvent).values(
                name=name,
                action="removed",
                actor=actor,
                at=times.now(),
                definition=_definition(target, dict(row._mapping)),
            )
        )


def target_events(
    ws: Workspace, name: str | None = None, *, limit: int = 100
) -> list[TargetEventRecord]:
    """The recorded changes (of one target, or all), newest first."""
    query = select(TargetEvent).order_by(TargetEvent.id.desc()).limit(limit)
    if name is not None:
        query = query.where(TargetEvent.name == name)
    with ws.engine.connect() as conn:
        rows = list(conn.execute(query))
    return [
        TargetEventRecord(
            id=r.id,
            name=r.name,
            action=r.action,
            actor=r.actor,
            at=r.at,
            definition=json.loads(r.definition),
        )
        for r in rows
    ]


def target_jobs(ws: Workspace, name: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """The newest crawl jobs of a target (either source): id, status, spider and times."""
    query = (
        select(CrawlJob.job_id, CrawlJob.status, CrawlJob.spider, CrawlJob.created_at)
        .add_columns(CrawlJob.finished_at)
        .where(CrawlJob.target == name)
        .order_by(CrawlJob.created_at.desc())
        .limit(limit)
    )
    with ws.engine.connect() as conn:
        rows = list(conn.execute(query))
    return [
        {
            "job_id": r.job_id,
            "status": r.status,
            "spider": r.spider,
            "created_at": times.iso(r.created_at),
            "finished_at": times.iso(r.finished_at),
        }
        for r in rows
    ]
