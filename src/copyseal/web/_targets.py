"""Crawl targets in the app: everyone reads them, admins add, edit and remove those kept
in the database (``config.yaml``'s are shown read-only), pages and JSON API alike."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, create_model
from starlette.datastructures import FormData
from starlette.responses import Response

from copyseal.config import CrawlSchedule, CrawlTarget
from copyseal.crawl import (
    TargetInfo,
    get_target,
    known_spiders,
    list_targets,
    remove_target,
    save_target,
    schedule_states,
    target_events,
    target_jobs,
)
from copyseal.errors import CrawlError
from copyseal.review.errors import NotFound
from copyseal.review.users import SessionInfo, require
from copyseal.web._context import ApiSession, CurrentSession, FormSession, ctx_of, render
from copyseal.web._forms import (
    FLASH,
    api_fields,
    form_input,
    form_values,
    model_form,
    read_form,
)

__all__ = ["api_router", "router"]

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["api"])
JSON = dict[str, Any]

#: A target form's inputs: every key of a ``crawl.targets`` entry but ``allow_private``
#: (only config.yaml and the command line may allow private networks; the API refuses it
#: with that message).
TARGET_FIELDS: Final = model_form(CrawlTarget, exclude={"allow_private"})
#: Its schedule's inputs (an empty cron: no schedule); ``enabled`` is posted as
#: ``schedule_enabled``, the input's name in the form.
SCHEDULE_FIELDS: Final = model_form(
    CrawlSchedule, exclude={"target"}, names={"enabled": "schedule_enabled"}, optional=True
)
_FIELDS: Final = TARGET_FIELDS + SCHEDULE_FIELDS


def _blank() -> dict[str, Any]:
    """A new target's form: the models' defaults."""
    return {"name": "", "version": "", **form_values(_FIELDS)}


def _find(ws: Any, name: str) -> TargetInfo:
    try:
        return get_target(ws, name)
    except CrawlError as e:
        raise NotFound(str(e)) from e


def _states(ws: Any) -> dict[str, JSON]:
    """Schedule states by target name (next and last run)."""
    return {s.target: s.to_json() for s in schedule_states(ws)}


def _form_values(info: TargetInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "version": "" if info.version is None else str(info.version),
        **form_values(TARGET_FIELDS, info.target),
        **form_values(SCHEDULE_FIELDS, info.schedule),
    }


def _read_form(form: FormData) -> dict[str, Any]:
    def text(key: str) -> str:
        raw = form.get(key)
        return raw.strip() if isinstance(raw, str) else ""

    return {"name": text("name"), "version": text("version"), **read_form(_FIELDS, form)}


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
        fields=TARGET_FIELDS,
        schedule_fields=SCHEDULE_FIELDS,
        choices={"spider": known_spiders(ws.settings)},
    )


def _save_form(
    request: Request, session: SessionInfo, values: dict[str, Any], *, new: bool
) -> Response:
    """Save a submitted form; on a bad value, the form again with the message."""
    version = str(values["version"])
    schedule = form_input(SCHEDULE_FIELDS, values)
    try:
        save_target(
            ctx_of(request).ws,
            name=values["name"],
            fields=form_input(TARGET_FIELDS, values),
            actor=session.user.name,
            cron=schedule["cron"],
            revisit_matches=schedule["revisit_matches"],
            schedule_enabled=schedule["enabled"],
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
    return _form_page(request, session, _blank(), new=True)


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
        fields=TARGET_FIELDS,
        schedule_fields=SCHEDULE_FIELDS,
        choices={"spider": known_spiders(ws.settings) if can_manage else []},
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


class _TargetBody(BaseModel):
    """What the API's target bodies add to the keys of :class:`CrawlTarget`."""

    def fields(self) -> dict[str, Any]:
        """The keys of a ``crawl.targets`` entry (validated by the library)."""
        return self.model_dump(include=set(CrawlTarget.model_fields))


# The bodies' fields are made from the settings models at import time, so a key added to
# CrawlTarget or CrawlSchedule is accepted and documented (OpenAPI) without a change here;
# the type checker sees the attributes this module reads.
if TYPE_CHECKING:

    class ScheduleIn(BaseModel):
        cron: str
        revisit_matches: bool
        enabled: bool

    class TargetIn(_TargetBody):
        schedule: ScheduleIn | None
        version: int | None

    class TargetCreate(TargetIn):
        name: str

else:
    ScheduleIn = create_model(
        "ScheduleIn",
        __doc__="A target's schedule: the keys of a ``crawl.schedules`` entry but its target.",
        **api_fields(CrawlSchedule, exclude={"target"}),
    )
    TargetIn = create_model(
        "TargetIn",
        __base__=_TargetBody,
        __doc__="A target: the keys of a ``crawl.targets`` entry, and an optional schedule.",
        **api_fields(CrawlTarget),
        schedule=(ScheduleIn | None, None),
        version=(
            int | None,
            Field(
                default=None,
                description="on update: refuse if the target changed since this version",
            ),
        ),
    )
    TargetCreate = create_model("TargetCreate", __base__=TargetIn, name=(str, Field(max_length=64)))


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
