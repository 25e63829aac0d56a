"""Crawl targets in the app: everyone reads them, admins add, edit and remove those kept
in the database (``config.yaml``'s are shown read-only), pages and JSON API alike."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.datastructures import FormData
from starlette.responses import Response

from copyseal.crawl import (
    get_target,
    known_spiders,
    list_targets,
    remove_target,
    save_target,
    schedule_states,
    target_events,
    target_jobs,
)
from copyseal.crawl._targets import TargetInfo
from copyseal.errors import CrawlError
from copyseal.review.errors import NotFound
from copyseal.review.users import SessionInfo, require
from copyseal.web._context import ApiSession, CurrentSession, FormSession, ctx_of, render
from copyseal.web._forms import FLASH

__all__ = ["api_router", "router"]

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["api"])
JSON = dict[str, Any]

#: The fields of a target form and their defaults (a new target's form starts here).
_BLANK: dict[str, Any] = {
    "name": "",
    "urls": "",
    "spider": "site",
    "render": False,
    "allowed_domains": "",
    "max_pages": "",
    "max_depth": "",
    "allow_private": False,
    "obey_robots_txt": True,
    "robots_override_reason": "",
    "cron": "",
    "revisit_matches": False,
    "schedule_enabled": True,
    "version": "",
}


def _find(ws: Any, name: str) -> TargetInfo:
    try:
        return get_target(ws, name)
    except CrawlError as e:
        raise NotFound(str(e)) from e


def _states(ws: Any) -> dict[str, JSON]:
    """Schedule states by target name (next and last run)."""
    return {s.target: s.to_json() for s in schedule_states(ws)}


def _form_values(info: TargetInfo) -> dict[str, Any]:
    t = info.target
    s = info.schedule
    return {
        "name": info.name,
        "urls": "\n".join(t.urls),
        "spider": t.spider,
        "render": t.render,
        "allowed_domains": "\n".join(t.allowed_domains),
        "max_pages": "" if t.max_pages is None else str(t.max_pages),
        "max_depth": "" if t.max_depth is None else str(t.max_depth),
        "allow_private": t.allow_private,
        "obey_robots_txt": t.obey_robots_txt,
        "robots_override_reason": t.robots_override_reason or "",
        "cron": s.cron if s else "",
        "revisit_matches": s.revisit_matches if s else False,
        "schedule_enabled": s.enabled if s else True,
        "version": "" if info.version is None else str(info.version),
    }


def _lines(text: str) -> list[str]:
    return [v.strip() for v in text.replace(",", "\n").splitlines() if v.strip()]


def _fields(values: dict[str, Any]) -> dict[str, Any]:
    """A form's values as the keys of a ``crawl.targets`` entry (validated later)."""
    fields: dict[str, Any] = {
        "urls": [u.strip() for u in str(values["urls"]).splitlines() if u.strip()],
        "spider": values["spider"],
        "render": values["render"],
        "allowed_domains": _lines(str(values["allowed_domains"])),
        "allow_private": values["allow_private"],
        "obey_robots_txt": values["obey_robots_txt"],
        "robots_override_reason": str(values["robots_override_reason"]).strip() or None,
    }
    for key in ("max_pages", "max_depth"):
        text = str(values[key]).strip()
        fields[key] = text or None  # pydantic turns digits into numbers, names the rest
    return fields


def _read_form(form: FormData) -> dict[str, Any]:
    values = dict(_BLANK)
    for key, default in _BLANK.items():
        if isinstance(default, bool):
            values[key] = form.get(key) == "1"
        else:
            raw = form.get(key)
            values[key] = raw.strip() if isinstance(raw, str) else ""
    return values


def _form_page(
    request: Request, session: SessionInfo, values: dict[str, Any], *, new: bool, error: str = ""
) -> Response:
    ws = ctx_of(request).ws
    return render(
        request,
        "target_form.html",
        session,
        status_code=400 if error else 200,
        v=values,
        new=new,
        error=error,
        spiders=known_spiders(ws.settings),
    )


def _save_form(
    request: Request, session: SessionInfo, values: dict[str, Any], *, new: bool
) -> Response:
    """Save a submitted form; on a bad value, the form again with the message."""
    version = str(values["version"])
    try:
        save_target(
            ctx_of(request).ws,
            name=values["name"],
            fields=_fields(values),
            actor=session.user.name,
            cron=values["cron"] or None,
            revisit_matches=values["revisit_matches"],
            schedule_enabled=values["schedule_enabled"],
            create=new,
            expected_version=None if new or not version.isdigit() else int(version),
        )
    except CrawlError as e:
        return _form_page(request, session, values, new=new, error=str(e))
    return RedirectResponse(f"/targets/{values['name']}?flash=target", status_code=303)


# -- pages ---------------------------------------------------------------------------------


@router.get("/targets")
def targets_page(request: Request, session: CurrentSession) -> Response:
    ws = ctx_of(request).ws
    return render(
        request,
        "targets.html",
        session,
        targets=[t.to_json() for t in list_targets(ws)],
        states=_states(ws),
        can_manage=session.user.can("targets"),
        message=FLASH.get(request.query_params.get("flash", ""), ""),
    )


@router.get("/targets/new")
def new_target_page(request: Request, session: CurrentSession) -> Response:
    require(session.user, "targets")
    return _form_page(request, session, dict(_BLANK), new=True)


@router.post("/targets")
async def create_target_form(request: Request, session: FormSession) -> Response:
    require(session.user, "targets")
    values = _read_form(await request.form())
    return _save_form(request, session, values, new=True)


@router.get("/targets/{name}")
def target_page(request: Request, name: str, session: CurrentSession) -> Response:
    ws = ctx_of(request).ws
    info = _find(ws, name)
    can_manage = session.user.can("targets") and info.source == "app"
    return render(
        request,
        "target.html",
        session,
        t=info.to_json(),
        state=_states(ws).get(name),
        events=[e.to_json() for e in target_events(ws, name)],
        jobs=target_jobs(ws, name),
        can_manage=can_manage,
        v=_form_values(info),
        spiders=known_spiders(ws.settings) if can_manage else [],
        error="",
        new=False,
        message=FLASH.get(request.query_params.get("flash", ""), ""),
    )


@router.post("/targets/{name}")
async def update_target_form(request: Request, name: str, session: FormSession) -> Response:
    require(session.user, "targets")
    ws = ctx_of(request).ws
    _find(ws, name)
    values = {**_read_form(await request.form()), "name": name}
    return _save_form(request, session, values, new=False)


@router.post("/targets/{name}/remove")
def remove_target_form(
    request: Request,
    name: str,
    session: FormSession,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    require(session.user, "targets")
    ws = ctx_of(request).ws
    _find(ws, name)
    if confirm != name:
        raise CrawlError(f"type the target's name ({name}) to confirm its removal")
    remove_target(ws, name=name, actor=session.user.name)
    return RedirectResponse("/targets?flash=target-removed", status_code=303)


# -- JSON API ------------------------------------------------------------------------------


class ScheduleIn(BaseModel):
    cron: str = Field(description="five cron fields, evaluated in UTC, e.g. '0 3 * * *'")
    revisit_matches: bool = False
    enabled: bool = True


class TargetIn(BaseModel):
    """A target: the keys of a ``crawl.targets`` entry, and an optional schedule."""

    urls: list[str] = Field(description="start URLs (http or https)")
    spider: str = "site"
    render: bool = False
    allowed_domains: list[str] = []
    max_pages: int | None = None
    max_depth: int | None = None
    allow_private: bool = False
    obey_robots_txt: bool = True
    robots_override_reason: str | None = None
    schedule: ScheduleIn | None = None
    version: int | None = Field(
        default=None, description="on update: refuse if the target changed since this version"
    )

    def fields(self) -> dict[str, Any]:
        return self.model_dump(exclude={"name", "schedule", "version"})


class TargetCreate(TargetIn):
    name: str = Field(max_length=64)


def _save(
    request: Request, session: SessionInfo, name: str, body: TargetIn, *, create: bool
) -> JSON:
    require(session.user, "targets")
    s = body.schedule
    return save_target(
        ctx_of(request).ws,
        name=name,
        fields=body.fields(),
        actor=session.user.name,
        cron=s.cron if s else None,
        revisit_matches=s.revisit_matches if s else False,
        schedule_enabled=s.enabled if s else True,
        create=create,
        expected_version=body.version,
    ).to_json()


@api_router.get("/targets")
def api_targets(request: Request, session: CurrentSession) -> list[JSON]:
    """Every crawl target: ``source`` is ``config`` (config.yaml, read-only) or ``app``."""
    ws = ctx_of(request).ws
    states = _states(ws)
    return [{**t.to_json(), "schedule_state": states.get(t.name)} for t in list_targets(ws)]


@api_router.get("/targets/{name}")
def api_target(request: Request, name: str, session: CurrentSession) -> JSON:
    """A target with its schedule state, its change history and its newest crawl jobs."""
    ws = ctx_of(request).ws
    info = _find(ws, name)
    return {
        **info.to_json(),
        "schedule_state": _states(ws).get(name),
        "events": [e.to_json() for e in target_events(ws, name)],
        "jobs": target_jobs(ws, name),
    }


@api_router.post("/targets", status_code=201)
def api_create_target(request: Request, body: TargetCreate, session: ApiSession) -> JSON:
    """Add a target kept in the database (admins); crawlable and scheduled at once."""
    return _save(request, session, body.name, body, create=True)


@api_router.put("/targets/{name}")
def api_update_target(request: Request, name: str, body: TargetIn, session: ApiSession) -> JSON:
    """Replace a database target (admins); ``version`` guards against lost updates."""
    require(session.user, "targets")
    _find(ctx_of(request).ws, name)
    return _save(request, session, name, body, create=False)


@api_router.delete("/targets/{name}")
def api_remove_target(request: Request, name: str, session: ApiSession) -> JSON:
    """Remove a database target (admins); its crawls, matches and evidence stay."""
    require(session.user, "targets")
    ws = ctx_of(request).ws
    _find(ws, name)
    remove_target(ws, name=name, actor=session.user.name)
    return {"ok": True, "removed": name}
